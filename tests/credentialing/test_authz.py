"""Every /credentialing route: role in {none, provider, client, ops} x object in {own, foreign,
unknown}; provider A probing provider B's credentialing records gets 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.credentialing import CredentialingIn
from services.core.auth import Actor
from services.core.settings import Settings
from services.credentialing.service import request_credentialing
from tests.authz import OBJECTS, ROLES, expected_status, headers_for
from tests.factories import make_client_actor, make_ops, make_payer, make_provider


@dataclass
class World:
    actors: dict[str, Actor | None]
    records: dict[str, uuid.UUID]
    payer_id: uuid.UUID
    foreign_provider: uuid.UUID


@pytest.fixture
async def world(db: asyncpg.Connection, settings: Settings) -> World:
    ops = await make_ops(db)
    a = await make_provider(db, settings, ops)
    b = await make_provider(db, settings, ops)
    assert a.provider_id is not None
    assert b.provider_id is not None
    payer_id = (await make_payer(db)).id
    own = CredentialingIn(provider_id=a.provider_id, payer_id=payer_id)
    foreign = CredentialingIn(provider_id=b.provider_id, payer_id=payer_id)
    records = {
        "own": (await request_credentialing(db, ops, own)).id,
        "foreign": (await request_credentialing(db, ops, foreign)).id,
        "unknown": uuid.uuid4(),
    }
    actors: dict[str, Actor | None] = {
        "none": None,
        "provider": a,
        "client": await make_client_actor(db),
        "ops": ops,
    }
    return World(actors, records, payer_id, b.provider_id)


OBJECT_ROUTES = [
    ("GET", "/credentialing/{id}", None, ("ops", "provider"), 200),
    ("POST", "/credentialing/{id}/transitions", {"to_status": "submitted", "reason": "sent"},
     ("ops",), 200),
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
    db: asyncpg.Connection,
    world: World,
    token: Any,
    method: str,
    template: str,
    body: Any,
    allowed: tuple[str, ...],
    success: int,
    role: str,
    obj: str,
) -> None:
    record_id = world.records[obj]
    response = await client.request(
        method,
        template.format(id=record_id),
        json=body,
        headers=headers_for(token, world.actors[role]),
    )
    assert response.status_code == expected_status(role, obj, allowed, success), response.text
    if response.status_code >= 400:
        assert str(world.foreign_provider) not in response.text
        assert str(world.payer_id) not in response.text
        if method == "POST":
            status = await db.fetchval(
                "SELECT status FROM credentialing_records WHERE id = $1", record_id
            )
            assert status in (None, "requested")


@pytest.mark.parametrize("role", ROLES)
async def test_open_is_for_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, world: World, token: Any, role: str
) -> None:
    provider = world.actors["provider"]
    assert provider is not None
    other_payer = (await make_payer(db)).id
    response = await client.post(
        "/credentialing",
        json={"provider_id": str(provider.provider_id), "payer_id": str(other_payer)},
        headers=headers_for(token, world.actors[role]),
    )
    assert response.status_code == expected_status(role, "own", ("ops",), 201), response.text


@pytest.mark.parametrize("role", ROLES)
async def test_list_scopes_a_provider_to_their_own(
    client: httpx.AsyncClient, world: World, token: Any, role: str
) -> None:
    response = await client.get("/credentialing", headers=headers_for(token, world.actors[role]))
    assert response.status_code == expected_status(role, "own", ("ops", "provider"), 200)
    if response.status_code == 200:
        ids = [r["id"] for r in response.json()["items"]]
        expected = ["own", "foreign"] if role == "ops" else ["own"]
        assert ids == [str(world.records[k]) for k in expected]
