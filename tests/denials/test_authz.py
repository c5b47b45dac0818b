"""Who may call each /denials and /appeals route: ops only. Denials and appeals are the
platform's work, so there is no "foreign" one: "own" is an existing row, "unknown" none. A
provider (even the claim's own) or a client gets 403, no token 401; a refusal changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from services.app import create_app
from services.core.settings import Settings
from tests.authz import guarded_routes, headers_for, refusal
from tests.denials.world import deny
from tests.factories import make_actor

pytestmark = pytest.mark.usefixtures("clock")
ROLES = ("none", "provider", "client", "ops")
OBJECTS = ("own", "unknown")


@dataclass
class World:
    denial_id: uuid.UUID
    appeal_id: uuid.UUID


@dataclass
class Route:
    name: str
    method: str
    template: str
    by_object: dict[str, int]  # what ops get


def _denial(w: World, o: str) -> uuid.UUID:
    return w.denial_id if o == "own" else uuid.uuid4()


def _appeal(w: World, o: str) -> uuid.UUID:
    return w.appeal_id if o == "own" else uuid.uuid4()


REQUESTS: dict[str, Any] = {
    "queue": lambda w, o: ("GET", "/denials", None),
    "get": lambda w, o: ("GET", f"/denials/{_denial(w, o)}", None),
    "resubmit": lambda w, o: ("POST", f"/denials/{_denial(w, o)}/resubmit", {"reason": "r"}),
    "void": lambda w, o: ("POST", f"/denials/{_denial(w, o)}/void", {"reason": "r"}),
    "write-off": lambda w, o: ("POST", f"/denials/{_denial(w, o)}/write-off", {"note": "n"}),
    "appeal": lambda w, o: ("POST", f"/denials/{_denial(w, o)}/appeals", {"note": "n"}),
    "appeals": lambda w, o: ("GET", "/appeals", None),
    "get-appeal": lambda w, o: ("GET", f"/appeals/{_appeal(w, o)}", None),
    "patch-appeal": lambda w, o: ("PATCH", f"/appeals/{_appeal(w, o)}", {"status": "submitted"}),
    "note": lambda w, o: ("POST", f"/appeals/{_appeal(w, o)}/notes", {"note": "n"}),
}
D, A = "{remitted_claim_id:uuid}", "{appeal_id:uuid}"
ROUTES = [
    Route("queue", "GET", "/denials", {"own": 200, "unknown": 200}),
    Route("get", "GET", f"/denials/{D}", {"own": 200, "unknown": 404}),
    # The world's denial is appealed already: ops get the 409 naming that resolution.
    Route("resubmit", "POST", f"/denials/{D}/resubmit", {"own": 409, "unknown": 404}),
    Route("void", "POST", f"/denials/{D}/void", {"own": 409, "unknown": 404}),
    Route("write-off", "POST", f"/denials/{D}/write-off", {"own": 409, "unknown": 404}),
    Route("appeal", "POST", f"/denials/{D}/appeals", {"own": 409, "unknown": 404}),
    Route("appeals", "GET", "/appeals", {"own": 200, "unknown": 200}),
    Route("get-appeal", "GET", f"/appeals/{A}", {"own": 200, "unknown": 404}),
    Route("patch-appeal", "PATCH", f"/appeals/{A}", {"own": 200, "unknown": 404}),
    Route("note", "POST", f"/appeals/{A}/notes", {"own": 201, "unknown": 404}),
]


@pytest.fixture
async def world(db: asyncpg.Connection, ops, provider, payer_id) -> World:
    denial = await deny(db, ops, provider, payer_id)
    appeal_id = await db.fetchval(
        "INSERT INTO claim_appeals (claim_id, remitted_claim_id, deadline, deadline_source,"
        " created_at, created_by, updated_at, updated_by)"
        " VALUES ($1, $2, '2027-06-02', 'payer_window', now(), $3, now(), $3) RETURNING id",
        denial.billed.claim_id, denial.id, ops.user,
    )  # fmt: skip
    await db.execute(
        "INSERT INTO denial_resolutions (remitted_claim_id, claim_id, action, note, appeal_id,"
        " resolved_by, resolved_at) VALUES ($1, $2, 'appealed', 'n', $3, $4, now())",
        denial.id, denial.billed.claim_id, appeal_id, ops.user,
    )  # fmt: skip
    return World(denial_id=denial.id, appeal_id=appeal_id)


async def _state(db: asyncpg.Connection) -> list[Any]:
    tables = ("denial_resolutions", "claim_appeals", "claim_appeal_notes", "claim_submissions")
    return [
        [dict(r) for r in await db.fetch(f"SELECT * FROM {table} ORDER BY 1")] for table in tables
    ]


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
    provider: Any,
) -> None:
    # The provider is the claim's own: still 403, the queue is ops' work.
    actor = None
    if role != "none":
        actor = provider if role == "provider" else await make_actor(db, role)
    method, url, body = REQUESTS[route.name](world, obj)
    before = await _state(db)
    response = await client.request(method, url, json=body, headers=headers_for(token, actor))
    expected = refusal(role, ("ops",)) or route.by_object[obj]
    assert response.status_code == expected, (route.name, role, obj, response.text)
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await _state(db) == before


def test_every_denial_route_is_in_the_matrix(settings: Settings) -> None:
    app = create_app(settings)
    seen = guarded_routes(app, "/denials") | guarded_routes(app, "/appeals")
    assert seen == {(r.method, r.template, frozenset({"ops"})) for r in ROUTES}
