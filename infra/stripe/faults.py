"""Faults switched on by `/_admin/faults`: timeouts, 500s, forced declines, slow answers.

A rule matches requests whose path starts with its `path_prefix` (and its `method`, if given),
and fires for its next `count` matches, or for each match with probability `fraction`:
- `timeout`: the request hangs `delay_s` (default 30), then the connection is dropped with no
  answer; with `"after": true` the request is processed first (stored under its
  Idempotency-Key, its objects made) and only the answer is lost, as when a network fails;
- `error`: HTTP `status` (default 500; 400-599) with Stripe's error body for it (`api_error`
  for a 5xx, `rate_limit_error` for a 429, else `invalid_request_error`) and `code` if given,
  nothing processed; with `"after": true` the request is processed first and the error answered
  instead of its result (a 5xx whose work was done);
- `decline`: a PaymentIntent confirmation (create with `confirm`, or `/confirm`) is declined
  with `decline_code` (default `generic_decline`) whatever the card;
- `slow`: the answer comes `delay_s` (default 2) late.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from infra.stripe.errors import StripeError

KINDS = ("timeout", "error", "decline", "slow")
DECLINE = "sim_decline_code"  # the request key a decline rule leaves for the payments routes


@dataclass
class Rule:
    kind: str
    path_prefix: str = "/v1/"
    method: str | None = None
    count: int | None = None
    fraction: float | None = None
    delay_s: float | None = None
    status: int = 500
    decline_code: str = "generic_decline"
    code: str | None = None
    after: bool = False
    fired: int = 0

    def matches(self, request: web.Request, rng: random.Random) -> bool:
        if not request.path.startswith(self.path_prefix):
            return False
        if self.method is not None and request.method != self.method:
            return False
        if self.count is not None:
            if self.fired >= self.count:
                return False
        elif self.fraction is not None and rng.random() >= self.fraction:
            return False
        self.fired += 1
        return True


def parse_rule(data: Any) -> Rule:
    """A rule from its JSON; ValueError names the field that is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a fault is an object")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    rule = Rule(kind=kind)
    for name, types in (("path_prefix", str), ("method", str), ("decline_code", str),
                        ("code", str), ("after", bool)):  # fmt: skip
        if name in data:
            if not isinstance(data[name], types):
                raise ValueError(f"{name} must be a {types.__name__}")
            setattr(rule, name, data[name])
    rule.count = _number(data, "count", int, 1, 1_000_000)
    rule.fraction = _number(data, "fraction", float, 0.0, 1.0)
    rule.delay_s = _number(data, "delay_s", float, 0.0, 600.0)
    rule.status = _number(data, "status", int, 400, 599) or 500
    if rule.count is None and rule.fraction is None:
        raise ValueError("give count (the next N matches) or fraction (0..1 of matches)")
    if not rule.path_prefix.startswith("/v1/"):
        raise ValueError("path_prefix must start with /v1/")
    return rule


def _number(data: dict[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in {low}..{high}")
    if kind is int and not float(value).is_integer():
        raise ValueError(f"{name} must be an integer")
    return kind(value)


class Faults:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.rng = random.Random()

    def clear(self) -> None:
        self.rules.clear()

    def listing(self) -> list[dict[str, Any]]:
        return [asdict(rule) for rule in self.rules]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        rule = next((r for r in self.rules if r.matches(request, self.rng)), None)
        if rule is None:
            response: web.StreamResponse = await handler(request)
            return response
        if rule.kind == "error":
            if rule.after:
                await handler(request)
            raise _error(rule)
        if rule.kind == "slow":
            await asyncio.sleep(2.0 if rule.delay_s is None else rule.delay_s)
        if rule.kind == "decline":
            request[DECLINE] = rule.decline_code
        if rule.kind == "timeout":
            if rule.after:
                await handler(request)
            await asyncio.sleep(30.0 if rule.delay_s is None else rule.delay_s)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing is answered on a dropped connection
        response = await handler(request)
        return response


def _error(rule: Rule) -> StripeError:
    """Stripe's error answer for the rule's status."""
    if rule.status == 429:
        return StripeError(429, "Too many requests hit the API too quickly (simulated fault).",
                           type="rate_limit_error", code=rule.code or "rate_limit")  # fmt: skip
    if rule.status >= 500:
        return StripeError(rule.status, "An unknown error occurred (simulated fault).",
                           type="api_error", code=rule.code)  # fmt: skip
    return StripeError(rule.status, "The request was refused (simulated fault).",
                       code=rule.code)  # fmt: skip
