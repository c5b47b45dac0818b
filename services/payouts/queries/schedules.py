"""payout_schedules (every schedule ops set, the newest in force) and payout_holds; whether a
provider's payout of a period exists (payouts)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from schemas.payouts import PayoutHoldOut, PayoutScheduleRow, ScheduleKind
from services.core.db import one, to_struct, to_structs

_SCHEDULES = """
    SELECT id, kind, anchor_weekday, anchor_date, reason, changed_by, created_at
    FROM payout_schedules WHERE provider_id = $1
"""
_HOLDS = """
    SELECT id, provider_id, reason, placed_by, released_at, released_by, release_reason,
           created_at
    FROM payout_holds
"""


async def insert_schedule(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID,
    kind: ScheduleKind,
    anchor: tuple[int | None, date | None],
    reason: str | None,
    changed_by: uuid.UUID | None,
    now: datetime,
) -> PayoutScheduleRow:
    row = await conn.fetchrow(
        """
        INSERT INTO payout_schedules (provider_id, kind, anchor_weekday, anchor_date, reason,
                                      changed_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id, kind, anchor_weekday, anchor_date, reason, changed_by, created_at
        """,
        provider_id, kind, anchor[0], anchor[1], reason, changed_by, now,
    )  # fmt: skip
    return one(row, PayoutScheduleRow)


async def list_schedules(
    conn: asyncpg.Connection, provider_id: uuid.UUID, limit: int
) -> list[PayoutScheduleRow]:
    """The provider's schedules, newest (the one in force) first."""
    rows = await conn.fetch(_SCHEDULES + "ORDER BY seq DESC LIMIT $2", provider_id, limit)
    return to_structs(rows, PayoutScheduleRow)


async def lock_provider_schedules(conn: asyncpg.Connection, provider_id: uuid.UUID) -> None:
    """Serialize two changes of one provider's schedule (the newer wins, both kept)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('payout_schedule:' || $1::uuid::text, 0))",
        provider_id,
    )


async def insert_hold(
    conn: asyncpg.Connection, provider_id: uuid.UUID, reason: str, placed_by: uuid.UUID | None,
    now: datetime,
) -> PayoutHoldOut:  # fmt: skip
    row = await conn.fetchrow(
        """
        INSERT INTO payout_holds (provider_id, reason, placed_by, created_at)
        VALUES ($1, $2, $3, $4)
        RETURNING id, provider_id, reason, placed_by, released_at, released_by, release_reason,
                  created_at
        """,
        provider_id, reason, placed_by, now,
    )  # fmt: skip
    return one(row, PayoutHoldOut)


async def list_open_holds(conn: asyncpg.Connection, provider_id: uuid.UUID) -> list[PayoutHoldOut]:
    rows = await conn.fetch(
        _HOLDS + "WHERE provider_id = $1 AND released_at IS NULL ORDER BY created_at, id",
        provider_id,
    )
    return to_structs(rows, PayoutHoldOut)


async def lock_hold(
    conn: asyncpg.Connection, hold_id: uuid.UUID, provider_id: uuid.UUID | None
) -> PayoutHoldOut | None:
    """The hold, locked; `provider_id` set: only that provider's (a provider's own scope)."""
    row = await conn.fetchrow(
        _HOLDS + "WHERE id = $1 AND ($2::uuid IS NULL OR provider_id = $2) FOR UPDATE",
        hold_id,
        provider_id,
    )
    return to_struct(row, PayoutHoldOut)


async def update_hold_released(
    conn: asyncpg.Connection, hold_id: uuid.UUID, by: uuid.UUID | None, reason: str | None,
    now: datetime,
) -> PayoutHoldOut:  # fmt: skip
    row = await conn.fetchrow(
        """
        UPDATE payout_holds SET released_at = $3, released_by = $2, release_reason = $4
        WHERE id = $1
        RETURNING id, provider_id, reason, placed_by, released_at, released_by, release_reason,
                  created_at
        """,
        hold_id, by, now, reason,
    )  # fmt: skip
    return one(row, PayoutHoldOut)


async def has_payout(
    conn: asyncpg.Connection, provider_id: uuid.UUID, period_end: datetime
) -> bool:
    """Whether the provider's payout with this cutoff was made."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM payouts WHERE provider_id = $1 AND period_end = $2)",
        provider_id, period_end,
    ))  # fmt: skip
