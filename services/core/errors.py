"""Domain errors and the one handler that renders RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from schemas.common import X12_PATTERNS
from services.core.logging import current_request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class DomainError(Exception):
    """A refusal with an HTTP status; raised by services, rendered by the handler."""

    status = 400
    code = "bad_request"
    title = "Bad request"
    keeps_writes = False  # True: the request's transaction commits even though this is raised

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.field = field
        self.headers = headers or {}


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(DomainError):
    status, code, title = 422, "unprocessable", "Unprocessable content"


class TooManyRequests(DomainError):
    status, code, title = 429, "too_many_requests", "Too many requests"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "unavailable", "Service unavailable"


def _problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    request: Request[Any, Any, Any],
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://hearth.invalid/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": current_request_id(),
    }
    if errors:
        body["errors"] = [msgspec.to_builtins(e) for e in errors]
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_NAMED_FIELD = re.compile(r"(?:missing required|unknown) field `([^`]+)`")
# Litestar's own message for an absent required parameter (litestar/_kwargs/extractors.py);
# it carries no error list, so without this the answer named no field at all.
_MISSING_PARAMETER = re.compile(r"^Missing required (\w+) parameter '([^']+)'")


def _wire_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A handler's parameter names -> the names a caller sends (`date_from` -> `from`):
    Litestar names an invalid parameter by its Python name, which the caller never saw."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    names = {}
    for name, definition in getattr(signature, "parameters", {}).items():
        wire = getattr(getattr(definition, "kwarg_definition", None), "name", None)
        if isinstance(wire, str) and wire != name:
            names[name] = wire
    return names


def _validation_errors(
    exc: ValidationException, wire_names: dict[str, str] | None = None
) -> list[FieldError]:
    """Litestar's error list -> one FieldError per problem, with a dotted field path."""
    missing = _MISSING_PARAMETER.match(str(exc.detail))
    if missing:
        kind, name = missing.groups()
        return [FieldError(field=name, message=f"missing required {kind} parameter")]
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        message = str(item.get("message") or "invalid value")
        # msgspec says "Expected `int`, got `str` - at `$.a.b[0]`" or "... field `x` - at `$.a`".
        message, _, at = message.partition(" - at `$")
        path = at.rstrip("`").lstrip(".")
        named = _NAMED_FIELD.search(message)
        if named:
            path = f"{path}.{named[1]}" if path else named[1]
        if key and key != "data":  # a query, path or header parameter
            key = (wire_names or {}).get(key, key)
            path = f"{key}.{path}" if path else key
        for pattern, admits in X12_PATTERNS.items():
            if pattern in message or repr(pattern)[1:-1] in message:
                message = f"contains a character an X12 payer file cannot carry; use {admits}"
        errors.append(FieldError(field=path or "body", message=message))
    return errors


def _x12_unsafe(errors: list[FieldError]) -> bool:
    return bool(errors) and all(e.message.startswith("contains a character an X12") for e in errors)


# Seconds a client should wait after a 503 for an outage: long enough for a restart or a
# failover to be noticed, short enough that nobody gives up.
OUTAGE_RETRY_AFTER_S = 5

# A dependency that is down, restarting or full, as opposed to a bug: the request may well
# succeed later, so it is a 503 with Retry-After, not a 500 that pages someone.
_OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # refused, reset, loading, pool exhausted
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: our backend was terminated
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
    ConnectionError,  # refused, reset, broken pipe
    TimeoutError,  # pool acquire, connect, command timeouts (asyncio.TimeoutError too)
)

_MISCONFIGURED = (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError)


def is_outage(exc: BaseException) -> bool:
    """True for a PostgreSQL or Redis outage, also when wrapped (`raise ... from outage`)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__
    # redis-py raises a wrong password as ConnectionError(...) from AuthenticationError: a
    # deployment to fix (page someone), like asyncpg's InvalidPasswordError, not an outage.
    if any(isinstance(link, _MISCONFIGURED) for link in chain):
        return False
    return any(
        isinstance(link, _OUTAGES)
        # asyncpg says so of a pooled connection that died under us; other InterfaceErrors
        # are misuse, i.e. bugs.
        or (isinstance(link, asyncpg.InterfaceError) and "connection is closed" in str(link))
        for link in chain
    )


def _route(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("path_template", ""))


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Render every error as problem details; anything unexpected is a logged 500."""
    if isinstance(exc, DomainError):
        errors = [FieldError(field=exc.field, message=exc.detail)] if exc.field else None
        return _problem(exc.status, exc.title, exc.detail, exc.code, request, errors, exc.headers)
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc, _wire_names(request))
        named = ", ".join(e.field for e in errors) or "request"
        if _x12_unsafe(errors):
            # Well-formed JSON whose value a payer file cannot carry: a 422, like the refusals
            # of stored values that the X12 writers meet later.
            return _problem(
                422,
                "Unprocessable content",
                f"not X12-safe: {named}",
                "x12_unsafe_text",
                request,
                errors,
            )
        return _problem(
            400,
            "Invalid request",
            f"invalid value for: {named}",
            "validation_error",
            request,
            errors,
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status >= 500:
            log.error("server error", exc_info=exc, extra={"route": _route(request)})
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return _problem(
            status,
            exc.__class__.__name__,
            str(exc.detail),
            code.get(status, f"http_{status}"),
            request,
            headers=dict(exc.headers or {}),
        )
    if is_outage(exc):
        # The type only: a driver's message may quote a query's values.
        log.warning(
            "dependency unavailable",
            extra={"route": _route(request), "error_code": type(exc).__name__},
        )
        return _problem(
            503,
            "Service unavailable",
            "a service this request needs is unavailable; try again shortly",
            "unavailable",
            request,
            headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
        )
    log.exception("unhandled error", extra={"route": _route(request)})
    return _problem(500, "Internal error", "an unexpected error occurred", "internal", request)
