"""Arranging clients, providers, payers, policies and sessions for tests."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from schemas.clients import PolicyIn, SignupIn
from schemas.common import Address
from schemas.therapy_sessions import BookSessionIn, SessionOut
from services.app import close_resources, create_app, open_resources
from services.clients import policies
from services.clients import service as clients
from services.core.auth import Actor
from services.core.db import init_connection
from services.core.settings import Settings
from services.identity.service import create_user
from services.therapy_sessions import service as sessions

PASSWORD = "correct horse battery"


def email() -> str:
    return f"c-{uuid.uuid4().hex[:12]}@example.test"


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


async def make_ops(db: asyncpg.Connection, settings: Settings) -> Actor:
    user_id = await create_user(db, settings, email(), "ops", None)
    return Actor(user_id=user_id, role="ops")


async def make_client(db: asyncpg.Connection, settings: Settings, **fields: Any) -> Actor:
    data = SignupIn(
        email=email(),
        password=PASSWORD,
        first_name=fields.get("first_name", "Ada"),
        last_name="Lovelace",
        date_of_birth=date(1990, 4, 1),
        sex="F",
        address=Address(line1="1 Main St", city="Springfield", state="IL", zip="62701"),
    )
    out = await clients.sign_up(db, settings, data)
    return Actor(user_id=out.client.user_id, role="client", client_id=out.client.id)


async def make_provider(db: asyncpg.Connection, settings: Settings) -> Actor:
    user_id = await create_user(db, settings, email(), "provider", None)
    provider_id = await db.fetchval(
        """
        INSERT INTO providers (user_id, first_name, last_name, npi, taxonomy_code,
                               tax_id_encrypted, tax_id_key_id, tax_id_last4)
        VALUES ($1, 'Pat', 'Therapist', $2, '101YM0800X', '\\x00'::bytea, 'k1', '1234')
        RETURNING id
        """,
        user_id,
        "1" + "".join(secrets.choice("0123456789") for _ in range(9)),
    )
    return Actor(user_id=user_id, role="provider", provider_id=provider_id)


async def make_payer(db: asyncpg.Connection) -> uuid.UUID:
    payer_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO payers (name, x12_payer_id, timely_filing_days)
        VALUES ('Acme Health', $1, 90) RETURNING id
        """,
        "P" + uuid.uuid4().hex[:10],
    )
    return payer_id


async def make_policy(
    db: asyncpg.Connection, client: Actor, payer_id: uuid.UUID, **fields: Any
) -> uuid.UUID:
    data = PolicyIn(
        payer_id=payer_id,
        member_id=fields.get("member_id", "M123456"),
        priority=fields.get("priority", "primary"),
        relationship="self",
        effective_from=fields.get("effective_from", date(2020, 1, 1)),
        effective_to=fields.get("effective_to"),
    )
    assert client.client_id is not None
    return (await policies.add_policy(db, client, client.client_id, data)).id


def future(days: int = 7) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def make_session(
    db: asyncpg.Connection,
    ops: Actor,
    provider: Actor,
    client: Actor,
    policy_id: uuid.UUID | None = None,
    *,
    starts_at: datetime | None = None,
) -> SessionOut:
    data = BookSessionIn(
        provider_id=provider.provider_id,
        client_id=client.client_id,
        policy_id=policy_id,
        starts_at=starts_at or future(),
        duration_minutes=50,
        place_of_service="11",
    )
    return await sessions.book_session(db, ops, data)


async def move_to_past(db: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await db.execute(
        "UPDATE therapy_sessions SET starts_at = now() - interval '2 hours' WHERE id = $1",
        session_id,
    )


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
    w.ops = await make_ops(db, settings)
    w.providers = (await make_provider(db, settings), await make_provider(db, settings))
    w.clients = (
        await make_client(db, settings),
        await make_client(db, settings, first_name=FOREIGN_NAME),
    )
    w.payer = await make_payer(db)
    w.policies = (
        await make_policy(db, w.clients[0], w.payer),
        await make_policy(db, w.clients[1], w.payer),
    )
    w.sessions = (
        await make_session(db, w.ops, w.providers[0], w.clients[0], w.policies[0]),
        await make_session(db, w.ops, w.providers[1], w.clients[1], w.policies[1]),
    )
    return w


def statuses(
    none: int,
    provider: tuple[int, int, int],
    client: tuple[int, int, int],
    ops: tuple[int, int, int],
) -> list[tuple[str, str, int]]:
    """(role, object, status) rows of an authorization matrix."""
    rows = [("none", obj, none) for obj in ("own", "foreign", "unknown")]
    for role, expected in (("provider", provider), ("client", client), ("ops", ops)):
        rows += [
            (role, obj, s) for obj, s in zip(("own", "foreign", "unknown"), expected, strict=True)
        ]
    return rows


def matrix_cases(routes: dict[str, Any]) -> list[Any]:
    """pytest params (route, role, object, status) from {route: (request, statuses(...))}."""
    return [
        pytest.param(route, role, obj, status, id=f"{route}-{role}-{obj}")
        for route, (_, rows) in routes.items()
        for role, obj, status in rows
    ]


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
            me = await make_client(conn, settings)
            policy = await make_policy(conn, me, await make_payer(conn))
    finally:
        await conn.close()
    return provider, me, policy
