"""payouts: a batch of payouts claimed and recorded by the transfer_payouts job, a statement
for all of them each time (payouts' own tables only)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.payout_runs import PayoutRow, PayoutState
from services.core.db import to_structs
from services.payouts.queries.runs import _SELECT


async def lock_payouts(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[PayoutRow]:
    """The payouts, locked in one order (by id): two jobs locking overlapping sets wait for
    each other instead of deadlocking."""
    rows = await conn.fetch(_SELECT + "WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids)
    return to_structs(rows, PayoutRow)


async def lock_payout_states(
    conn: asyncpg.Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, PayoutState]:
    """lock_payouts (the same order), reading back only what may have changed since a claim."""
    rows = await conn.fetch(
        "SELECT id, status, attempt, stripe_transfer_id FROM payouts"
        " WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        ids,
    )  # fmt: skip
    return {r["id"]: PayoutState(r["id"], r["status"], r["attempt"], r["stripe_transfer_id"])
            for r in rows}  # fmt: skip


async def list_open_holds(
    conn: asyncpg.Connection, provider_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of the providers with an open hold."""
    rows = await conn.fetch(
        "SELECT DISTINCT provider_id FROM payout_holds "
        "WHERE provider_id = ANY($1::uuid[]) AND released_at IS NULL",
        provider_ids,
    )  # fmt: skip
    return {r["provider_id"] for r in rows}


async def update_claimed_many(
    conn: asyncpg.Connection, claims: list[tuple[uuid.UUID, int, str]], lease: datetime,
    now: datetime,
) -> None:  # fmt: skip
    """(payout, attempt, destination) claimed: submitting under one lease."""
    await conn.execute(
        """
        UPDATE payouts p SET status = 'submitting', attempt = c.attempt, lease_until = $4,
            destination = c.destination, hold_reason = NULL, updated_at = $5
        FROM unnest($1::uuid[], $2::int[], $3::text[]) AS c (id, attempt, destination)
        WHERE p.id = c.id
        """,
        [c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims], lease, now,
    )  # fmt: skip


async def update_paid_many(
    conn: asyncpg.Connection, paid: list[tuple[uuid.UUID, str]], now: datetime
) -> None:
    """(payout, transfer id) paid now (a transfer id stored before is kept)."""
    await conn.execute(
        """
        UPDATE payouts p SET status = 'paid', lease_until = NULL, hold_reason = NULL,
            stripe_transfer_id = coalesce(p.stripe_transfer_id, x.transfer_id),
            paid_at = $3, updated_at = $3
        FROM unnest($1::uuid[], $2::text[]) AS x (id, transfer_id)
        WHERE p.id = x.id
        """,
        [x[0] for x in paid], [x[1] for x in paid], now,
    )  # fmt: skip


async def update_rate_limited(conn: asyncpg.Connection, payout_id: uuid.UUID) -> int:
    """One more 429 on the payout's calls: how many now."""
    found: int = await conn.fetchval(
        "UPDATE payouts SET rate_limited = rate_limited + 1 WHERE id = $1 RETURNING rate_limited",
        payout_id,
    )
    return found


async def update_counts_cleared(conn: asyncpg.Connection, payout_id: uuid.UUID) -> None:
    """Ops send the payout again: its errors and 429s counted from nothing."""
    await conn.execute(
        "UPDATE payouts SET errors = 0, rate_limited = 0 WHERE id = $1",
        payout_id,
    )
