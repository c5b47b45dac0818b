"""Who may call each /recoupment-policies route: ops only.

Policies have no owner among providers and clients, so there is no "foreign" policy: "own" is
an existing row and "unknown" one that does not exist (a random id, a CARC with no policy).
A refused write changes nothing.
"""

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
from tests.factories import make_actor

ROLES = ("none", "provider", "client", "ops")
OBJECTS = ("own", "unknown")


@dataclass
class World:
    policy_id: uuid.UUID  # CO-50, a default
    added: tuple[str, str]  # a policy ops added (deletable)


@dataclass
class Route:
    name: str
    method: str
    template: str
    by_object: dict[str, int]  # what ops get


BODY = {"decision": "absorb", "description": "probe"}
REQUESTS: dict[str, Any] = {
    "list": lambda w, o: ("GET", "/recoupment-policies", None),
    "get": lambda w, o: (
        "GET",
        f"/recoupment-policies/{w.policy_id if o == 'own' else uuid.uuid4()}",
        None,
    ),
    "changes": lambda w, o: (
        "GET",
        f"/recoupment-policies/{w.policy_id if o == 'own' else uuid.uuid4()}/changes",
        None,
    ),
    "set": lambda w, o: (
        "PUT",
        "/recoupment-policies/" + ("CO/50" if o == "own" else "PR/B9"),
        BODY,
    ),
    "delete": lambda w, o: (
        "DELETE",
        "/recoupment-policies/" + ("/".join(w.added) if o == "own" else "PR/B8"),
        None,
    ),
}
ROUTES = [
    Route("list", "GET", "/recoupment-policies", {"own": 200, "unknown": 200}),
    Route("get", "GET", "/recoupment-policies/{policy_id:uuid}", {"own": 200, "unknown": 404}),
    Route(
        "changes",
        "GET",
        "/recoupment-policies/{policy_id:uuid}/changes",
        {"own": 200, "unknown": 404},
    ),
    Route(
        "set", "PUT", "/recoupment-policies/{group:str}/{code:str}", {"own": 200, "unknown": 201}
    ),
    Route(
        "delete",
        "DELETE",
        "/recoupment-policies/{group:str}/{code:str}",
        {"own": 204, "unknown": 404},
    ),
]


@pytest.fixture
async def world(db: asyncpg.Connection) -> World:
    policy_id = await db.fetchval(
        "SELECT id FROM recoupment_policies WHERE carc_group = 'CO' AND carc_code = '50'"
    )
    await db.execute(
        "INSERT INTO recoupment_policies (carc_group, carc_code, decision, description)"
        " VALUES ('PI', 'B7', 'recoup', 'ops added')"
    )
    return World(policy_id=policy_id, added=("PI", "B7"))


async def _state(db: asyncpg.Connection) -> tuple[list[Any], int]:
    rows = await db.fetch("SELECT * FROM recoupment_policies ORDER BY carc_group, carc_code")
    return [dict(r) for r in rows], await db.fetchval(
        "SELECT count(*) FROM recoupment_policy_changes"
    )


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
    actor = None if role == "none" else await make_actor(db, role)
    method, url, body = REQUESTS[route.name](world, obj)
    before = await _state(db)
    response = await client.request(method, url, json=body, headers=headers_for(token, actor))
    expected = refusal(role, ("ops",)) or route.by_object[obj]
    assert response.status_code == expected, (route.name, role, obj, response.text)
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "description" not in response.text  # no policy in a refusal
        assert await _state(db) == before


def test_every_recoupment_route_is_in_the_matrix(settings: Settings) -> None:
    seen = guarded_routes(create_app(settings), "/recoupment-policies")
    assert seen == {(r.method, r.template, frozenset({"ops"})) for r in ROUTES}
