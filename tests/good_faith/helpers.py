"""Shared helpers of the Good Faith Estimate tests."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import asyncpg

from services.core.auth import Actor
from services.core.settings import Settings
from services.providers.details import set_self_pay_rate
from tests.factories import make_client, make_ops, make_provider


class Parties(NamedTuple):
    ops: Actor
    provider: Actor
    client: Actor
    provider_id: uuid.UUID


async def self_pay_parties(db: asyncpg.Connection, settings: Settings, **rates: int) -> Parties:
    """Ops, a provider with these self-pay rates (`cpt_90834=14000`) and a client."""
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    assert provider.provider_id is not None
    for code, cents in rates.items():
        await set_self_pay_rate(db, provider.provider_id, code.removeprefix("cpt_"), cents)
    return Parties(ops, provider, await make_client(db, settings), provider.provider_id)


async def estimates(db: asyncpg.Connection, client: Actor) -> list[dict[str, Any]]:
    """The client's estimates, oldest first (every version)."""
    rows = await db.fetch(
        "SELECT id, course_id, version, reason, provider_id, therapy_session_id, period_start,"
        " period_end, expected_sessions, lines, total_cents, superseded_at, exceeded_at"
        " FROM good_faith_estimates WHERE client_id = $1 ORDER BY created_at, version",
        client.client_id,
    )
    return [dict(r) for r in rows]


async def email_jobs(db: asyncpg.Connection, estimate_ids: list[uuid.UUID]) -> int:
    """How many outbox rows queue the email of one of these estimates."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE job = 'send_good_faith_estimate'"
        " AND (payload ->> 'estimate_id')::uuid = ANY($1::uuid[])",
        estimate_ids,
    )
    return count
