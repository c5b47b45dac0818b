"""The `/_admin/*` routes (documented in infra/stripe/__init__.py)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from infra.stripe.errors import StripeError, answer, invalid
from infra.stripe.faults import parse_rule
from infra.stripe.webhooks import ORDERS, Endpoint

if TYPE_CHECKING:
    from infra.stripe.server import Simulator

_CONFIG_BOUNDS = {
    "available_delay_s": (0, 30 * 86_400),
    "topup_delay_s": (0, 30 * 86_400),
    "webhook_retry_base_s": (0.01, 86_400),
    "webhook_retry_cap_s": (0.01, 3 * 86_400),
    "webhook_max_attempts": (1, 100),
    "webhook_timeout_s": (0.1, 60),
}


async def _json(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise invalid("the body must be JSON") from None
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


def _bounded(data: dict[str, Any], name: str, low: float, high: float) -> float:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(f"{name} must be a number in {low}..{high}", param=name)
    return float(value)


def routes(sim: Simulator) -> list[tuple[str, str, Any]]:
    return [*_control_routes(sim), *_webhook_routes(sim), *_network_routes(sim)]


def _control_routes(sim: Simulator) -> list[tuple[str, str, Any]]:  # noqa: C901 - flat handlers
    async def health(request: web.Request) -> web.Response:
        return answer({"status": "ok", "now": sim.clock.timestamp(),
                       "faults": len(sim.faults.rules)})  # fmt: skip

    async def reset(request: web.Request) -> web.Response:
        sim.reset()
        return answer({"status": "reset"})

    async def get_faults(request: web.Request) -> web.Response:
        return answer({"items": sim.faults.listing()})

    async def add_fault(request: web.Request) -> web.Response:
        data = await _json(request)
        try:
            rules = [parse_rule(item) for item in data.get("faults", [data])]
        except ValueError as error:
            raise invalid(str(error)) from None
        sim.faults.rules.extend(rules)
        return answer({"items": sim.faults.listing()})

    async def clear_faults(request: web.Request) -> web.Response:
        sim.faults.clear()
        return answer({"items": []})

    async def clock(request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await _json(request)
            sim.clock.advance(_bounded(data, "advance_s", 0, 366 * 86_400))
            sim.settle()
        return answer({"now": sim.clock.timestamp(), "advanced_s": sim.clock.advanced_s})

    async def config(request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await _json(request)
            unknown = set(data) - set(_CONFIG_BOUNDS)
            if unknown:
                raise invalid(f"unknown settings: {', '.join(sorted(unknown))}")
            for name in data:
                value = _bounded(data, name, *_CONFIG_BOUNDS[name])
                kind = type(getattr(sim.config, name))
                setattr(sim.config, name, kind(value))
        return answer(dataclasses.asdict(sim.config))

    return [
        ("GET", "/_admin/health", health),
        ("POST", "/_admin/reset", reset),
        ("GET", "/_admin/faults", get_faults),
        ("POST", "/_admin/faults", add_fault),
        ("DELETE", "/_admin/faults", clear_faults),
        ("GET", "/_admin/clock", clock),
        ("POST", "/_admin/clock", clock),
        ("GET", "/_admin/config", config),
        ("POST", "/_admin/config", config),
    ]


def _webhook_routes(sim: Simulator) -> list[tuple[str, str, Any]]:  # noqa: C901 - flat handlers
    async def add_webhook(request: web.Request) -> web.Response:
        data = await _json(request)
        url, secret, events = data.get("url"), data.get("secret"), data.get("events")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("url must be an http(s) URL", param="url")
        if not isinstance(secret, str) or not secret:
            raise invalid("secret must be a string", param="secret")
        if events is not None and not (isinstance(events, list)
                                       and all(isinstance(e, str) for e in events)):  # fmt: skip
            raise invalid("events must be a list of event types", param="events")
        connect = data.get("connect", False)
        if not isinstance(connect, bool):
            raise invalid("connect must be true or false", param="connect")
        endpoint = Endpoint(str(data.get("id") or f"we_{uuid.uuid4().hex[:14]}"), url, secret,
                            events, connect=connect)  # fmt: skip
        sim.webhooks.register(endpoint)
        return answer({"id": endpoint.id, "url": url, "events": events, "connect": connect})

    async def list_webhooks(request: web.Request) -> web.Response:
        return answer({"items": [{"id": e.id, "url": e.url, "events": e.events,
                                  "connect": e.connect}
                                 for e in sim.webhooks.endpoints.values()]})  # fmt: skip

    async def remove_webhook(request: web.Request) -> web.Response:
        if sim.webhooks.endpoints.pop(request.match_info["id"], None) is None:
            raise StripeError(404, "no such webhook endpoint")
        return answer({"deleted": True})

    async def switches(request: web.Request) -> web.Response:
        data = await _json(request)
        current = sim.webhooks.switches
        if "duplicates" in data:
            current.duplicates = _bounded(data, "duplicates", 0, 1)
        if "jitter_s" in data:
            current.jitter_s = _bounded(data, "jitter_s", 0, 600)
        if "hold" in data:
            if not isinstance(data["hold"], bool):
                raise invalid("hold must be true or false", param="hold")
            current.hold = data["hold"]
        return answer(dataclasses.asdict(current))

    async def release(request: web.Request) -> web.Response:
        data = await _json(request)
        order = data.get("order", "fifo")
        if order not in ORDERS:
            raise invalid(f"order must be one of {', '.join(ORDERS)}", param="order")
        return answer({"released": sim.webhooks.release(order)})

    async def deliveries(request: web.Request) -> web.Response:
        return answer({"items": sim.webhooks.deliveries()})

    return [
        ("GET", "/_admin/webhooks", list_webhooks),
        ("POST", "/_admin/webhooks", add_webhook),
        ("DELETE", "/_admin/webhooks/{id}", remove_webhook),
        ("POST", "/_admin/webhooks/switches", switches),
        ("POST", "/_admin/webhooks/release", release),
        ("GET", "/_admin/webhooks/deliveries", deliveries),
    ]


def _network_routes(sim: Simulator) -> list[tuple[str, str, Any]]:
    """What card networks and banks start: disputes and failed refunds."""
    return [
        ("POST", "/_admin/disputes", sim.disputes.open),
        ("POST", "/_admin/disputes/{id}/close", sim.disputes.close),
        ("POST", "/_admin/refunds/{id}/fail", sim.disputes.fail_refund),
        ("POST", "/_admin/topups/{id}/fail", sim.connect.fail_topup),
    ]
