"""Two providers, each with a client and a claim at one payer: the claims API tests' world."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from schemas.payers import PayerOut
from services.claims import queries
from services.core import clock
from services.core.auth import Actor
from tests.factories import (
    make_claim,
    make_client_actor,
    make_ops,
    make_payer,
    make_provider_actor,
)


@dataclass
class ClaimWorld:
    """Provider A's claim for client A (`own`) and provider B's for client B (`foreign`)."""

    ops: Actor
    providers: tuple[Actor, Actor]
    clients: tuple[Actor, Actor]
    payer: PayerOut
    claims: tuple[uuid.UUID, uuid.UUID]

    def actor(self, role: str) -> Actor | None:
        return {
            "provider": self.providers[0],
            "client": self.clients[0],
            "ops": self.ops,
        }.get(role)


async def make_claim_world(db: asyncpg.Connection, **payer: object) -> ClaimWorld:
    ops = await make_ops(db)
    found = await make_payer(db, **payer)
    providers = (await make_provider_actor(db), await make_provider_actor(db))
    clients = (await make_client_actor(db), await make_client_actor(db))
    claims = (
        await make_claim(db, found.id, providers[0], clients[0]),
        await make_claim(db, found.id, providers[1], clients[1]),
    )
    return ClaimWorld(ops, providers, clients, found, claims)


async def move_claim(
    db: asyncpg.Connection, claim_id: uuid.UUID, to_status: str, reason: str
) -> None:
    """What the acknowledgement slice does to a claim: its status and a history row."""
    before = await db.fetchval("SELECT status FROM claims WHERE id = $1", claim_id)
    await db.execute("UPDATE claims SET status = $2 WHERE id = $1", claim_id, to_status)
    await queries.insert_history(db, claim_id, before, to_status, reason, None, clock.now())


async def session_of(db: asyncpg.Connection, claim_id: uuid.UUID) -> uuid.UUID:
    found: uuid.UUID = await db.fetchval(
        "SELECT therapy_session_id FROM claims WHERE id = $1", claim_id
    )
    return found


async def claim_on(
    db: asyncpg.Connection, world: ClaimWorld, service_date: date, payer_id: uuid.UUID
) -> uuid.UUID:
    """Another claim of provider A (for a new client) on `service_date` at `payer_id`."""
    return await make_claim(db, payer_id, world.providers[0], service_date=service_date)
