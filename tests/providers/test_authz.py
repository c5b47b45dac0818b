"""Every /providers route: role in {none, provider, client, ops} x object in {own, foreign,
unknown}; provider A probing provider B's profile, licences, locations and rates gets 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.core.settings import Settings
from tests.authz import OBJECTS, ROLES, expected_status, headers_for
from tests.factories import make_client_actor, make_ops, make_provider, provider_body
from tests.leaks import leaks


@dataclass
class Owned:
    provider_id: uuid.UUID
    licence_id: uuid.UUID
    location_id: uuid.UUID
    secrets: list[str]  # values of this provider that must never leak to another caller


@dataclass
class World:
    actors: dict[str, Actor | None]
    own: Owned
    foreign: Owned


async def _owned(
    db: asyncpg.Connection, settings: Settings, ops: Actor, surname: str, rate: int
) -> tuple[Actor, Owned]:
    body = provider_body(last_name=surname)
    provider = await make_provider(
        db, settings, ops, **{k: body[k] for k in ("last_name", "email", "npi")}
    )
    pid = provider.provider_id
    licence_no = f"LIC-{surname}"
    licence_id = await db.fetchval(
        """
        INSERT INTO provider_licences (provider_id, state, licence_type, number, expires_on)
        VALUES ($1, 'NY', 'LCSW', $2, '2031-01-01') RETURNING id
        """,
        pid,
        licence_no,
    )
    location_id = await db.fetchval(
        """
        INSERT INTO provider_locations (provider_id, name, place_of_service)
        VALUES ($1, $2, '10') RETURNING id
        """,
        pid,
        f"Room of {surname}",
    )
    await db.execute(
        "INSERT INTO provider_self_pay_rates (provider_id, cpt_code, amount_cents)"
        " VALUES ($1, '90837', $2)",
        pid,
        rate,
    )
    assert pid is not None
    leaks = [surname, body["email"], body["npi"], licence_no, f"Room of {surname}", str(rate)]
    return provider, Owned(pid, licence_id, location_id, leaks)


@pytest.fixture
async def world(db: asyncpg.Connection, settings: Settings) -> World:
    ops = await make_ops(db)
    a, own = await _owned(db, settings, ops, "Alpha", 77701)
    _, foreign = await _owned(db, settings, ops, "Bravo", 77702)
    actors: dict[str, Actor | None] = {
        "none": None,
        "provider": a,
        "client": await make_client_actor(db),
        "ops": ops,
    }
    return World(actors, own, foreign)


def _unknown() -> Owned:
    return Owned(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), [])


def _licence() -> dict[str, Any]:
    return {
        "state": "CA",
        "licence_type": "LPC",
        "number": uuid.uuid4().hex[:12],
        "expires_on": "2031-01-01",
    }


OBJECT_ROUTES: list[tuple[str, str, Callable[[], Any] | None, tuple[str, ...], int]] = [
    ("GET", "/providers/{pid}", None, ("ops", "provider"), 200),
    ("PATCH", "/providers/{pid}", lambda: {"first_name": "Zed"}, ("ops", "provider"), 200),
    ("POST", "/providers/{pid}/licences", _licence, ("ops", "provider"), 201),
    ("GET", "/providers/{pid}/licences", None, ("ops", "provider"), 200),
    ("DELETE", "/providers/{pid}/licences/{lid}", None, ("ops", "provider"), 204),
    ("POST", "/providers/{pid}/locations", lambda: {"name": "Tele", "place_of_service": "02"},
     ("ops", "provider"), 201),
    ("GET", "/providers/{pid}/locations", None, ("ops", "provider"), 200),
    ("PATCH", "/providers/{pid}/locations/{loc}", lambda: {"name": "New"},
     ("ops", "provider"), 200),
    ("DELETE", "/providers/{pid}/locations/{loc}", None, ("ops", "provider"), 204),
    ("PUT", "/providers/{pid}/self-pay-rates/90834", lambda: {"amount_cents": 15000},
     ("ops", "provider"), 200),
    ("GET", "/providers/{pid}/self-pay-rates", None, ("ops", "provider"), 200),
]  # fmt: skip


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "template", "body", "allowed", "success"),
    OBJECT_ROUTES,
    ids=[f"{m} {t}" for m, t, *_ in OBJECT_ROUTES],
)
async def test_object_routes(
    client: httpx.AsyncClient,
    world: World,
    token: Any,
    method: str,
    template: str,
    body: Callable[[], Any] | None,
    allowed: tuple[str, ...],
    success: int,
    role: str,
    obj: str,
) -> None:
    target = {"own": world.own, "foreign": world.foreign, "unknown": _unknown()}[obj]
    path = template.format(pid=target.provider_id, lid=target.licence_id, loc=target.location_id)
    response = await client.request(
        method,
        path,
        json=body() if body else None,
        headers=headers_for(token, world.actors[role]),
    )
    assert response.status_code == expected_status(role, obj, allowed, success), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        for secret in world.foreign.secrets + world.own.secrets:
            assert not leaks(secret, response.text)
    elif response.status_code == 200 and obj == "own" and role == "provider":
        for secret in world.foreign.secrets:
            assert not leaks(secret, response.text)


@pytest.mark.parametrize(
    ("method", "child"),
    [("DELETE", "licences/{lid}"), ("PATCH", "locations/{loc}"), ("DELETE", "locations/{loc}")],
)
async def test_own_provider_id_with_a_foreign_child_is_404_and_untouched(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    world: World,
    token: Any,
    method: str,
    child: str,
) -> None:
    """Provider A (and ops) naming A's profile with B's licence or location."""
    for role in ("provider", "ops"):
        path = f"/providers/{world.own.provider_id}/" + child.format(
            lid=world.foreign.licence_id, loc=world.foreign.location_id
        )
        body = {"name": "Stolen"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=token(world.actors[role]))
        assert response.status_code == 404
    assert (
        await db.fetchval(
            "SELECT count(*) FROM provider_licences WHERE id = $1", world.foreign.licence_id
        )
        == 1
    )
    assert (
        await db.fetchval(
            "SELECT name FROM provider_locations WHERE id = $1", world.foreign.location_id
        )
        == "Room of Bravo"
    )


ROLE_ROUTES: list[tuple[str, str, Callable[[], Any] | None, tuple[str, ...], int]] = [
    ("POST", "/providers", provider_body, ("ops",), 201),
    ("GET", "/providers", None, ("ops",), 200),
    ("GET", "/providers/me", None, ("provider",), 200),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "success"),
    ROLE_ROUTES,
    ids=[f"{m} {p}" for m, p, *_ in ROLE_ROUTES],
)
async def test_collection_routes(
    client: httpx.AsyncClient,
    world: World,
    token: Any,
    method: str,
    path: str,
    body: Callable[[], Any] | None,
    allowed: tuple[str, ...],
    success: int,
    role: str,
) -> None:
    response = await client.request(
        method, path, json=body() if body else None, headers=headers_for(token, world.actors[role])
    )
    assert response.status_code == expected_status(role, "own", allowed, success), response.text
    if role == "provider" and response.status_code == 200:
        assert response.json()["id"] == str(world.own.provider_id)
        for secret in world.foreign.secrets:
            assert not leaks(secret, response.text)
