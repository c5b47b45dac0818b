"""Helpers over localstripe's objects: request parameters, events, exports, our own kinds."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.resources import Event, List, StripeObject, store
from localstripe.server import get_post_data, unflatten_data

from infra.stripe.errors import invalid, no_such


async def post_params(request: web.Request) -> dict[str, Any]:
    data = await get_post_data(request)
    return dict(data) if data else {}


def query_params(request: web.Request) -> dict[str, Any]:
    return dict(unflatten_data(request.query) or {})


def emit(type: str, obj: Any, *, account: str | None = None) -> None:
    """An event, stored (GET /v1/events/{id}) and handed to the webhook deliveries; `account`:
    the connected account it happened on (Stripe's `event.account`: Connect endpoints only)."""
    event = Event(type, obj)
    if account is not None:
        event.account = account
    resources.schedule_webhook(event)


def flag(value: Any, name: str) -> bool:
    """A boolean parameter as the SDK form-encodes it ("true"/"false")."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(f"Invalid boolean: {value}", param=name)


def cents(value: Any, name: str, *, required: bool = True) -> int | None:
    if value is None:
        if required:
            raise invalid(f"Missing required param: {name}.", param=name)
        return None
    try:
        amount = int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {value}", param=name) from None
    if amount < 0 or amount > 99_999_999:
        raise invalid(f"Invalid integer: {value}", param=name)
    return amount


def metadata(value: Any) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid object", param="metadata")
    return {str(k): str(v) for k, v in value.items()}


def find(kind: type[StripeObject], id: Any, param: str = "id") -> Any:
    obj = store.get(f"{kind.object}:{id}") if isinstance(id, str) else None
    if obj is None:
        raise no_such(kind.object.replace("_", " "), str(id), param)
    return obj


def known_customer(customer: Any) -> None:
    """A `customer` parameter Stripe does not know refused as Stripe refuses it (400
    `resource_missing`, `param` customer), where localstripe answers a bare 404 or, on a
    SetupIntent, takes it."""
    if customer is not None and store.get(f"{resources.Customer.object}:{customer}") is None:
        raise invalid(f"No such customer: '{customer}'", param="customer", code="resource_missing")


def every(kind: type[StripeObject]) -> list[Any]:
    prefix = kind.object + ":"
    return [obj for key, obj in store.items() if key.startswith(prefix)]


def page(url: str, items: list[Any], params: dict[str, Any]) -> List:
    """Newest first, as Stripe lists; `limit` and `starting_after` as localstripe reads them."""
    newest = sorted(reversed(items), key=lambda obj: obj.created, reverse=True)
    listing = List(url, limit=params.get("limit"), starting_after=params.get("starting_after"))
    listing._list = newest
    return listing


def created_filter(params: dict[str, Any]) -> Any:
    """`created[gt|gte|lt|lte]=<unix time>` (or `created=<unix time>`) as a predicate."""
    created = params.get("created")
    if created is None:
        return lambda obj: True
    bounds = created if isinstance(created, dict) else {"eq": created}
    tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__,
             "eq": int.__eq__}  # fmt: skip
    checks = []
    for op, raw in bounds.items():
        if op not in tests:
            raise invalid(f"Invalid created[{op}]", param="created")
        try:
            checks.append((tests[op], int(raw)))
        except (TypeError, ValueError):
            raise invalid(f"Invalid timestamp: {raw}", param="created") from None
    return lambda obj: all(test(int(obj.created), value) for test, value in checks)
