"""platform_top_ups: bank -> Stripe balance."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.payouts import TopUpOut, TopUpStatus
from services.core.db import one, to_struct
from services.core.pagination import After, fetch_page

_SELECT = """
    SELECT id, amount_cents, description, status, attempt, lease_until, stripe_topup_id,
           failure_code, requested_by, succeeded_at, failed_at, created_at
    FROM platform_top_ups
"""


async def insert_top_up(
    conn: asyncpg.Connection, amount: int, description: str | None, by: uuid.UUID | None,
    now: datetime,
) -> TopUpOut:  # fmt: skip
    row = await conn.fetchrow(
        """
        INSERT INTO platform_top_ups (amount_cents, description, status, requested_by,
                                      created_at, updated_at)
        VALUES ($1, $2, 'pending', $3, $4, $4)
        RETURNING id, amount_cents, description, status, attempt, lease_until, stripe_topup_id,
                  failure_code, requested_by, succeeded_at, failed_at, created_at
        """,
        amount, description, by, now,
    )  # fmt: skip
    return one(row, TopUpOut)


async def get_top_up(conn: asyncpg.Connection, top_up_id: uuid.UUID) -> TopUpOut | None:
    return to_struct(await conn.fetchrow(_SELECT + "WHERE id = $1", top_up_id), TopUpOut)


async def lock_top_up(conn: asyncpg.Connection, top_up_id: uuid.UUID) -> TopUpOut | None:
    row = await conn.fetchrow(_SELECT + "WHERE id = $1 FOR UPDATE", top_up_id)
    return to_struct(row, TopUpOut)


async def lock_top_up_by_stripe_id(conn: asyncpg.Connection, topup_id: str) -> TopUpOut | None:
    row = await conn.fetchrow(_SELECT + "WHERE stripe_topup_id = $1 FOR UPDATE", topup_id)
    return to_struct(row, TopUpOut)


async def list_top_ups(conn: asyncpg.Connection, after: After | None, limit: int) -> list[TopUpOut]:
    """Newest first."""
    return await fetch_page(
        conn, TopUpOut, _SELECT + "WHERE true", after=after, limit=limit, newest_first=True
    )


async def update_claimed(
    conn: asyncpg.Connection, top_up_id: uuid.UUID, attempt: int, lease: datetime, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE platform_top_ups SET status = 'submitting', attempt = $2, lease_until = $3,
            updated_at = $4
        WHERE id = $1
        """,
        top_up_id, attempt, lease, now,
    )  # fmt: skip


async def update_stripe_id(
    conn: asyncpg.Connection, top_up_id: uuid.UUID, topup_id: str, now: datetime
) -> None:
    """The top-up's id at Stripe, stored as soon as it is known (kept once set)."""
    await conn.execute(
        """
        UPDATE platform_top_ups SET stripe_topup_id = coalesce(stripe_topup_id, $2),
            updated_at = $3
        WHERE id = $1
        """,
        top_up_id, topup_id, now,
    )  # fmt: skip


async def update_status(
    conn: asyncpg.Connection, top_up_id: uuid.UUID, status: TopUpStatus,
    lease: datetime | None, failure_code: str | None, now: datetime,
) -> TopUpOut:  # fmt: skip
    """A new status; succeeded and failed stamp their time."""
    row = await conn.fetchrow(
        """
        UPDATE platform_top_ups SET status = $2, lease_until = $3, failure_code = $4,
            succeeded_at = CASE WHEN $2 = 'succeeded' THEN $5::timestamptz END,
            failed_at = CASE WHEN $2 = 'failed' THEN $5::timestamptz END,
            updated_at = $5
        WHERE id = $1
        RETURNING id, amount_cents, description, status, attempt, lease_until, stripe_topup_id,
                  failure_code, requested_by, succeeded_at, failed_at, created_at
        """,
        top_up_id, status, lease, failure_code, now,
    )  # fmt: skip
    return one(row, TopUpOut)
