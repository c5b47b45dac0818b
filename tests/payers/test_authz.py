"""Who may call each payers route, on which object.

Payers and fee schedules have no owner among providers or clients: every provider reads the same
rows, so "own" and "foreign" payers answer alike. A fee schedule's parent is its payer: "foreign"
is another payer's row asked for under this payer's path, which must answer 404 exactly like an
unknown id. "_b" roles are a second user of the same role.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payers import FeeScheduleOut, PayerOut
from services.app import create_app
from services.core.auth import Actor
from services.core.settings import Settings
from tests.authz import OBJECTS, guarded_routes, headers_for, refusal
from tests.factories import make_actor, make_fee, make_payer
from tests.leaks import leaks

# tests.authz's ROLES, each with a second user of the same role ("_b").
ROLES = ["none", "provider", "provider_b", "client", "client_b", "ops", "ops_b"]


@dataclass
class World:
    payer: PayerOut  # "own"
    other_payer: PayerOut  # "foreign"
    fee: FeeScheduleOut  # a row of `payer`
    other_fee: FeeScheduleOut  # a row of `other_payer`


def _payer_id(world: World, obj: str) -> str:
    ids = {"own": world.payer.id, "foreign": world.other_payer.id, "unknown": uuid.uuid4()}
    return str(ids[obj])


def _fee_url(world: World, obj: str, suffix: str = "") -> str:
    fee_id = {"own": world.fee.id, "foreign": world.other_fee.id, "unknown": uuid.uuid4()}[obj]
    return f"/payers/{world.payer.id}/fee-schedules/{fee_id}{suffix}"


@dataclass
class Route:
    name: str
    method: str
    template: str  # as Litestar registers it, to check every route is here
    allowed: tuple[str, ...]
    # expected status for an admitted role, per object kind
    by_object: dict[str, int]

    def request(self, world: World, obj: str) -> tuple[str, str, Any]:
        return REQUESTS[self.name](world, obj)


REQUESTS: dict[str, Any] = {
    "create_payer": lambda w, o: (
        "POST",
        "/payers",
        {"name": "New", "x12_payer_id": "N" + uuid.uuid4().hex[:9], "timely_filing_days": 90},
    ),
    "list_payers": lambda w, o: ("GET", "/payers", None),
    "get_payer": lambda w, o: ("GET", f"/payers/{_payer_id(w, o)}", None),
    "update_payer": lambda w, o: ("PATCH", f"/payers/{_payer_id(w, o)}", {"name": "Renamed"}),
    "create_fee_schedule": lambda w, o: (
        "POST",
        f"/payers/{_payer_id(w, o)}/fee-schedules",
        {
            "cpt_code": "90791",
            "allowed_cents": 20000,
            "provider_rate_cents": 15000,
            "effective_from": "2026-01-01",
        },
    ),
    "list_fee_schedules": lambda w, o: ("GET", f"/payers/{_payer_id(w, o)}/fee-schedules", None),
    "get_fee_schedule": lambda w, o: ("GET", _fee_url(w, o), None),
    "end_fee_schedule": lambda w, o: (
        "POST",
        _fee_url(w, o, "/end"),
        {"effective_to": "2026-06-30"},
    ),
    "set_oon_rate": lambda w, o: (
        "PUT",
        f"/payers/{_payer_id(w, o)}/out-of-network-rates/90834",
        {"allowed_cents": 15000},
    ),
    "list_oon_rates": lambda w, o: (
        "GET",
        f"/payers/{_payer_id(w, o)}/out-of-network-rates",
        None,
    ),
}

ALL = ("provider", "client", "ops")
ROUTES = [
    Route(
        "create_payer", "POST", "/payers", ("ops",), {"own": 201, "foreign": 201, "unknown": 201}
    ),
    Route("list_payers", "GET", "/payers", ALL, {"own": 200, "foreign": 200, "unknown": 200}),
    Route(
        "get_payer",
        "GET",
        "/payers/{payer_id:uuid}",
        ALL,
        {"own": 200, "foreign": 200, "unknown": 404},
    ),
    Route(
        "update_payer",
        "PATCH",
        "/payers/{payer_id:uuid}",
        ("ops",),
        {"own": 200, "foreign": 200, "unknown": 404},
    ),
    Route(
        "create_fee_schedule",
        "POST",
        "/payers/{payer_id:uuid}/fee-schedules",
        ("ops",),
        {"own": 201, "foreign": 201, "unknown": 404},
    ),
    Route(
        "list_fee_schedules",
        "GET",
        "/payers/{payer_id:uuid}/fee-schedules",
        ("ops", "provider"),
        {"own": 200, "foreign": 200, "unknown": 404},
    ),
    Route(
        "get_fee_schedule",
        "GET",
        "/payers/{payer_id:uuid}/fee-schedules/{fee_schedule_id:uuid}",
        ("ops", "provider"),
        {"own": 200, "foreign": 404, "unknown": 404},
    ),
    Route(
        "end_fee_schedule",
        "POST",
        "/payers/{payer_id:uuid}/fee-schedules/{fee_schedule_id:uuid}/end",
        ("ops",),
        {"own": 200, "foreign": 404, "unknown": 404},
    ),
    Route(
        "set_oon_rate",
        "PUT",
        "/payers/{payer_id:uuid}/out-of-network-rates/{cpt_code:str}",
        ("ops",),
        {"own": 200, "foreign": 200, "unknown": 404},
    ),
    Route(
        "list_oon_rates",
        "GET",
        "/payers/{payer_id:uuid}/out-of-network-rates",
        ("ops", "provider"),
        {"own": 200, "foreign": 200, "unknown": 404},
    ),
]


def _expected(route: Route, role: str, obj: str) -> int:
    return refusal(role.removesuffix("_b"), route.allowed) or route.by_object[obj]


@pytest.fixture
async def world(db: asyncpg.Connection, ops: Actor) -> World:
    payer = await make_payer(db, name="Own Payer")
    other_payer = await make_payer(db, name="Foreign Payer")
    fee = await make_fee(db, ops, payer.id)
    # Distinctive figures, so a leak of the foreign row would show in a 404 body.
    other_fee = await make_fee(
        db,
        ops,
        other_payer.id,
        cpt_code="90847",
        allowed_cents=98765,
        provider_rate_cents=43210,
        effective_from=date(2031, 2, 3),
    )
    return World(payer, other_payer, fee, other_fee)


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
async def test_authorization_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    world: World,
    token: Any,
    route: Route,
    role: str,
    obj: str,
) -> None:
    actor = None if role == "none" else await make_actor(db, role.removesuffix("_b"))
    headers = headers_for(token, actor)
    method, url, body = route.request(world, obj)
    response = await client.request(method, url, json=body, headers=headers)
    expected = _expected(route, role, obj)
    assert response.status_code == expected, (route.name, role, obj, response.text)
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        text = response.text
        for leak in ("98765", "43210", "90847", "2031-02-03", str(world.other_payer.id), "Foreign"):
            if leak in url:
                continue  # the problem's `instance` repeats the path that was asked for
            assert not leaks(leak, text), (route.name, role, obj, leak)
        assert not {"allowed_cents", "provider_rate_cents", "x12_payer_id"} & set(response.json())


def test_every_payers_route_is_in_the_matrix(settings: Settings) -> None:
    seen = guarded_routes(create_app(settings), "/payers")
    expected = {(r.method, r.template.replace(":uuid", ""), frozenset(r.allowed)) for r in ROUTES}
    normalized = {(m, p.replace(":uuid", ""), roles) for m, p, roles in seen}
    assert normalized == expected
