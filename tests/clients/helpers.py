"""Request bodies and the two-of-everything world of the clients and sessions tests (the arrange
functions themselves are in tests/factories.py, the authorization matrix in tests/authz.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import msgspec

from schemas.therapy_sessions import SessionOut
from services.app import close_resources, create_app, open_resources
from services.core.auth import Actor
from services.core.db import init_connection
from services.core.settings import Settings
from tests.factories import (
    PASSWORD,
    email,
    future,
    make_client,
    make_insured_client,
    make_ops,
    make_payer,
    make_policy,
    make_provider,
    make_session,
)


def signup_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": email(),
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "1990-04-01",
        "sex": "F",
        "address": {"line1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
        "phone": "+12175550100",
    }
    body.update(overrides)
    return body


async def audit_rows(db: asyncpg.Connection, entity: str, entity_id: uuid.UUID) -> list[Any]:
    return list(
        await db.fetch(
            """
            SELECT actor_user_id, actor_role, action, entity, entity_id, request_id
            FROM audit_events WHERE entity = $1 AND entity_id = $2 ORDER BY id
            """,
            entity,
            entity_id,
        )
    )


def session_body(provider: Actor, client: Actor | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_id": str(provider.provider_id),
        "starts_at": future().isoformat(),
        "duration_minutes": 50,
        "place_of_service": "10",
    }
    if client is not None:
        body["client_id"] = str(client.client_id)
    body.update(fields)
    return body


class World:
    """Two providers and two clients, each pair with a session and the client with a policy."""

    ops: Actor
    providers: tuple[Actor, Actor]
    clients: tuple[Actor, Actor]
    policies: tuple[uuid.UUID, uuid.UUID]
    sessions: tuple[SessionOut, SessionOut]
    payer: uuid.UUID

    def actor(self, role: str) -> Actor | None:
        return {"provider": self.providers[0], "client": self.clients[0], "ops": self.ops}.get(role)


FOREIGN_NAME = "Bertha"  # the foreign client's first name: never in a 404


async def make_world(db: asyncpg.Connection, settings: Settings) -> World:
    w = World()
    w.ops = await make_ops(db)
    w.providers = (await make_provider(db, settings), await make_provider(db, settings))
    w.clients = (
        await make_client(db, settings),
        await make_client(db, settings, first_name=FOREIGN_NAME),
    )
    w.payer = (await make_payer(db)).id
    w.policies = (
        await make_policy(db, w.clients[0], w.payer),
        await make_policy(db, w.clients[1], w.payer),
    )
    w.sessions = (
        await make_session(db, w.ops, w.providers[0], w.clients[0], w.policies[0]),
        await make_session(db, w.ops, w.providers[1], w.clients[1], w.policies[1]),
    )
    return w


@asynccontextmanager
async def committed_api(settings: Settings, url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API over its own pool on a committed database: requests really run concurrently."""
    local = msgspec.structs.replace(settings, database_url=url, db_pool_max=12)
    app = create_app(local)
    await open_resources(app, local)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield http
    finally:
        await close_resources(app)


async def arrange_committed(url: str, settings: Settings) -> tuple[Actor, Actor, uuid.UUID]:
    """A provider, a client and the client's primary policy, committed."""
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    try:
        async with conn.transaction():
            provider = await make_provider(conn, settings)
            me, policy = await make_insured_client(conn, settings)
    finally:
        await conn.close()
    return provider, me, policy
