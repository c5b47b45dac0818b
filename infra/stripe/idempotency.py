"""Idempotency-Key on every POST, as Stripe keeps it.

The first answer under a key (per API key) is stored, status and body, and replayed to every
request with the same key and the same parameters (with `Idempotent-Replayed: true`); the same
key with other parameters, or on another endpoint, is a 400 `idempotency_error`. A request
still running under the key answers 409 `idempotency_key_in_use`. Keys are forgotten 24 hours
after their first use, by the simulator's clock (`/_admin/clock` moves it). Answers that never
started executing are not stored, as with Stripe: 401s, 409s, 429s and 5xx (so a retry after an
injected 500 runs afresh).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe.server import get_api_key

from infra.stripe.errors import StripeError
from infra.stripe.state import IDEMPOTENCY_TTL_S, SimClock

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_NOT_STORED = {401, 409, 429}


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    at: datetime
    status: int
    body: bytes
    content_type: str


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request's endpoint and parameters, whatever order the form fields came in."""
    try:
        params: Any = json.loads(body) if body.lstrip().startswith(b"{") else None
    except ValueError:
        params = None
    if params is None:
        params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    canonical = json.dumps([method, path, params], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Idempotency:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.stored: OrderedDict[tuple[str, str], Stored] = OrderedDict()
        self.running: set[tuple[str, str]] = set()

    def clear(self) -> None:
        self.stored.clear()

    def forget_expired(self) -> None:
        """Keys are stored in the order first used, and the clock only moves forward."""
        horizon = self.clock.now() - timedelta(seconds=IDEMPOTENCY_TTL_S)
        while self.stored and next(iter(self.stored.values())).at <= horizon:
            self.stored.popitem(last=False)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/v1/"):
            response: web.StreamResponse = await handler(request)
            return response
        if not key or len(key) > MAX_KEY_LENGTH:
            raise StripeError(400, f"Invalid idempotency key: at most {MAX_KEY_LENGTH} characters",
                              param="Idempotency-Key")  # fmt: skip
        scope = (get_api_key(request) or "", key)
        print_ = fingerprint(request.method, request.path, await request.read())
        self.forget_expired()
        first = self.stored.get(scope)
        if first is not None:
            return self._replay(first, print_, key)
        if scope in self.running:
            raise StripeError(409, "There is currently another in-progress request using this "
                              "Idempotent Key (that probably means you submitted twice, and "
                              "the other request is still going through): "
                              f"{key}. Please try again later.",
                              type="idempotency_error", code="idempotency_key_in_use")  # fmt: skip
        self.running.add(scope)
        try:
            response = await handler(request)
        finally:
            self.running.discard(scope)
        if isinstance(response, web.Response) and self._keeps(response.status):
            body = response.body if isinstance(response.body, bytes) else b""
            self.stored[scope] = Stored(print_, self.clock.now(), response.status, body,
                                        response.content_type)  # fmt: skip
        response.headers["Idempotency-Key"] = key
        return response

    @staticmethod
    def _keeps(status: int) -> bool:
        return status < 500 and status not in _NOT_STORED

    @staticmethod
    def _replay(first: Stored, print_: str, key: str) -> web.Response:
        if first.fingerprint != print_:
            raise StripeError(400, "Keys for idempotent requests can only be used with the same "
                              "parameters they were first used with. Try using a key other "
                              f"than '{key}' if you meant to execute a different request.",
                              type="idempotency_error")  # fmt: skip
        return web.Response(body=first.body, status=first.status, content_type=first.content_type,
                            headers={"Idempotent-Replayed": "true",
                                     "Idempotency-Key": key})  # fmt: skip
