"""SQL for Good Faith Estimates and the self-pay bills of their courses.

No foreign table is read: who and where are frozen into each estimate by the service, from the
clients' and providers' services.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from schemas.good_faith import (
    GoodFaithDocument,
    GoodFaithEstimateOut,
    GoodFaithExceededOut,
    GoodFaithLine,
    GoodFaithReason,
)
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page

_COLUMNS = """
    id, course_id, version, client_id, provider_id, reason, therapy_session_id, period_start,
    period_end, expected_sessions, lines, document, total_cents, issued_by, created_at,
    superseded_at, emailed_at, exceeded_at
"""


async def lock_pair(conn: asyncpg.Connection, client_id: uuid.UUID, provider_id: uuid.UUID) -> None:
    """Serialize estimates of one client x provider until this transaction ends: two bookings
    at once must not both find no course and issue two."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"good-faith:{client_id}:{provider_id}",
    )


async def get_open_course(
    conn: asyncpg.Connection, client_id: uuid.UUID, provider_id: uuid.UUID, day: date
) -> GoodFaithEstimateOut | None:
    """The pair's current estimate whose period has not ended before `day` (the latest)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM good_faith_estimates
        WHERE client_id = $1 AND provider_id = $2 AND superseded_at IS NULL AND period_end >= $3
        ORDER BY period_end DESC, created_at DESC LIMIT 1
        """,  # noqa: S608 (a constant column list)
        client_id,
        provider_id,
        day,
    )
    return to_struct(row, GoodFaithEstimateOut)


async def get_covering(
    conn: asyncpg.Connection, client_id: uuid.UUID, provider_id: uuid.UUID, day: date
) -> GoodFaithEstimateOut | None:
    """The pair's current estimate whose period holds `day`."""
    row = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM good_faith_estimates
        WHERE client_id = $1 AND provider_id = $2 AND superseded_at IS NULL
          AND period_start <= $3 AND period_end >= $3
        ORDER BY created_at DESC LIMIT 1
        """,  # noqa: S608 (a constant column list)
        client_id,
        provider_id,
        day,
    )
    return to_struct(row, GoodFaithEstimateOut)


async def update_superseded(conn: asyncpg.Connection, estimate_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE good_faith_estimates SET superseded_at = $2"
        " WHERE id = $1 AND superseded_at IS NULL",
        estimate_id,
        at,
    )


async def insert_estimate(
    conn: asyncpg.Connection,
    *,
    course_id: uuid.UUID,
    version: int,
    client_id: uuid.UUID,
    provider_id: uuid.UUID,
    reason: GoodFaithReason,
    therapy_session_id: uuid.UUID | None,
    period: tuple[date, date],
    expected_sessions: int,
    lines: list[GoodFaithLine],
    document: GoodFaithDocument,
    issued_by: uuid.UUID | None,
    at: datetime,
) -> GoodFaithEstimateOut:
    row = await conn.fetchrow(
        f"""
        INSERT INTO good_faith_estimates (course_id, version, client_id, provider_id, reason,
            therapy_session_id, period_start, period_end, expected_sessions, lines, document,
            total_cents, issued_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING {_COLUMNS}
        """,  # noqa: S608 (a constant column list)
        course_id,
        version,
        client_id,
        provider_id,
        reason,
        therapy_session_id,
        period[0],
        period[1],
        expected_sessions,
        msgspec.to_builtins(lines),
        msgspec.to_builtins(document),
        sum(line.total_cents for line in lines),
        issued_by,
        at,
    )
    found = to_struct(row, GoodFaithEstimateOut)
    assert found is not None
    return found


async def get_estimate(
    conn: asyncpg.Connection,
    estimate_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
) -> GoodFaithEstimateOut | None:
    """The estimate in the owner scope ($2 NULL: everyone's)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM good_faith_estimates
        WHERE id = $1 AND ($2::uuid IS NULL OR provider_id = $2 OR client_id = $3)
        """,  # noqa: S608 (a constant column list)
        estimate_id,
        provider_id,
        client_id,
    )
    return to_struct(row, GoodFaithEstimateOut)


async def lock_estimate(
    conn: asyncpg.Connection, estimate_id: uuid.UUID
) -> GoodFaithEstimateOut | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM good_faith_estimates WHERE id = $1 FOR UPDATE",  # noqa: S608
        estimate_id,
    )
    return to_struct(row, GoodFaithEstimateOut)


async def list_for_client(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    after: After | None,
    limit: int,
) -> list[GoodFaithEstimateOut]:
    """The client's estimates, oldest first; only `provider_id`'s when given."""
    return await fetch_page(
        conn,
        GoodFaithEstimateOut,
        f"SELECT {_COLUMNS} FROM good_faith_estimates"  # noqa: S608 (a constant column list)
        " WHERE client_id = $1 AND ($2::uuid IS NULL OR provider_id = $2)",
        client_id,
        provider_id,
        after=after,
        limit=limit,
    )


async def update_emailed(conn: asyncpg.Connection, estimate_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE good_faith_estimates SET emailed_at = $2 WHERE id = $1 AND emailed_at IS NULL",
        estimate_id,
        at,
    )


async def upsert_bill(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    course_id: uuid.UUID,
    amount_cents: int,
    service_date: date,
    at: datetime,
) -> None:
    """The session's bill in its course: its completion's, replaced by an edit's."""
    await conn.execute(
        """
        INSERT INTO good_faith_bills (therapy_session_id, course_id, amount_cents, service_date,
                                      recorded_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (therapy_session_id) DO UPDATE
            SET course_id = EXCLUDED.course_id, amount_cents = EXCLUDED.amount_cents,
                service_date = EXCLUDED.service_date, recorded_at = EXCLUDED.recorded_at
        """,
        session_id,
        course_id,
        amount_cents,
        service_date,
        at,
    )


async def sum_bills(conn: asyncpg.Connection, course_id: uuid.UUID) -> int:
    total: int = await conn.fetchval(
        "SELECT coalesce(sum(amount_cents), 0)::bigint FROM good_faith_bills WHERE course_id = $1",
        course_id,
    )
    return total


async def update_exceeded(conn: asyncpg.Connection, estimate_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE good_faith_estimates SET exceeded_at = $2 WHERE id = $1 AND exceeded_at IS NULL",
        estimate_id,
        at,
    )


async def list_exceeded(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[GoodFaithExceededOut]:
    """Current estimates whose course was billed $400 or more above them, first flagged first
    (keyset on exceeded_at, id)."""
    since, last_id = after or (None, None)
    rows = await conn.fetch(
        """
        SELECT e.id, e.id AS estimate_id, e.course_id, e.client_id, e.provider_id,
               e.period_start, e.period_end, e.total_cents, b.billed_cents,
               b.billed_cents - e.total_cents AS exceeded_by_cents, e.exceeded_at, e.created_at
        FROM good_faith_estimates e
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(amount_cents), 0)::bigint AS billed_cents
            FROM good_faith_bills WHERE course_id = e.course_id
        ) b
        WHERE e.exceeded_at IS NOT NULL AND e.superseded_at IS NULL
          AND ($1::timestamptz IS NULL OR (e.exceeded_at, e.id) > ($1, $2::uuid))
        ORDER BY e.exceeded_at, e.id
        LIMIT $3
        """,
        since,
        last_id,
        limit,
    )
    return to_structs(rows, GoodFaithExceededOut)
