"""ASGI middleware: a request id on every response and log line, one access line per request,
and the security headers every response carries."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.core.logging import reset_request_id, set_request_id

log = logging.getLogger("hearth.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = set_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "route": scope.get("path_template") or "unmatched",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            reset_request_id(token)

    return middleware


def allow_header_hook(methods_by_template: dict[str, str]) -> Any:
    """before_send: OPTIONS answers the route's real methods.

    Litestar builds a route's OPTIONS handler when the path's first handler registers and
    keeps listing only those methods after more handlers join the path.
    """

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        allow = methods_by_template.get(str(scope.get("path_template", "")))
        if allow is None:
            return
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
        headers.append((b"allow", allow.encode()))
        message["headers"] = headers

    return before_send


# Responses carry access and refresh tokens and PHI: no cache (browser, proxy, CDN) may keep them.
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_NO_STORE = (b"cache-control", b"no-store")
# Two years, subdomains too: production is served over HTTPS only.
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


def security_headers_middleware(app: ASGIApp, *, hsts: bool) -> ASGIApp:
    """nosniff, no framing or referrer, no-store unless a handler chose its own caching, and
    HSTS when `hsts` (production)."""
    extra = (*_ALWAYS, _HSTS) if hsts else _ALWAYS

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
