"""SQL for credentialing records and their events.

`owner` parameters scope a read to one provider: NULL (ops) sees every record.
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.credentialing import CredentialingEventOut, CredentialingOut
from services.core import clock
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page

_RECORD = """
    SELECT id, provider_id, payer_id, status, effective_on, ends_on, expiry_warned_at,
           created_at, updated_at
    FROM credentialing_records
"""


async def insert_record(
    conn: asyncpg.Connection, provider_id: uuid.UUID, payer_id: uuid.UUID
) -> CredentialingOut | None:
    """A new `requested` record; None while another record of the pair is still open.

    Raises ForeignKeyViolationError for an unknown provider or payer.
    """
    row = await conn.fetchrow(
        """
        INSERT INTO credentialing_records (provider_id, payer_id, status)
        VALUES ($1, $2, 'requested')
        ON CONFLICT (provider_id, payer_id) WHERE status IN ('requested', 'submitted', 'in_review')
        DO NOTHING
        RETURNING id, provider_id, payer_id, status, effective_on, ends_on, expiry_warned_at,
                  created_at, updated_at
        """,
        provider_id,
        payer_id,
    )
    return to_struct(row, CredentialingOut)


async def insert_event(
    conn: asyncpg.Connection,
    record_id: uuid.UUID,
    from_status: str | None,
    to_status: str,
    actor_user_id: uuid.UUID | None,
    reason: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO credentialing_events
            (record_id, from_status, to_status, actor_user_id, reason, at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        record_id,
        from_status,
        to_status,
        actor_user_id,
        reason,
        clock.now(),
    )


async def get_record(
    conn: asyncpg.Connection, record_id: uuid.UUID, owner: uuid.UUID | None
) -> CredentialingOut | None:
    row = await conn.fetchrow(
        _RECORD + " WHERE id = $1 AND ($2::uuid IS NULL OR provider_id = $2)", record_id, owner
    )
    return to_struct(row, CredentialingOut)


async def lock_record(conn: asyncpg.Connection, record_id: uuid.UUID) -> CredentialingOut | None:
    row = await conn.fetchrow(_RECORD + " WHERE id = $1 FOR UPDATE", record_id)
    return to_struct(row, CredentialingOut)


async def update_record_status(
    conn: asyncpg.Connection,
    record_id: uuid.UUID,
    status: str,
    effective_on: date | None,
    ends_on: date | None,
) -> CredentialingOut:
    row = await conn.fetchrow(
        """
        UPDATE credentialing_records
        SET status = $2, effective_on = $3, ends_on = $4, updated_at = $5
        WHERE id = $1
        RETURNING id, provider_id, payer_id, status, effective_on, ends_on, expiry_warned_at,
                  created_at, updated_at
        """,
        record_id,
        status,
        effective_on,
        ends_on,
        clock.now(),
    )
    return one(row, CredentialingOut)


async def list_records(
    conn: asyncpg.Connection,
    owner: uuid.UUID | None,
    filters: tuple[uuid.UUID | None, uuid.UUID | None, str | None, bool],
    after: After | None,
    limit: int,
) -> list[CredentialingOut]:
    """`filters`: provider id, payer id, status, expiring only (flagged by the expiry job)."""
    query = (
        _RECORD
        + """
        WHERE ($1::uuid IS NULL OR provider_id = $1)
          AND ($2::uuid IS NULL OR provider_id = $2)
          AND ($3::uuid IS NULL OR payer_id = $3)
          AND ($4::text IS NULL OR status = $4)
          AND (NOT $5::bool OR (status = 'approved' AND expiry_warned_at IS NOT NULL))
        """
    )
    return await fetch_page(
        conn, CredentialingOut, query, owner, *filters, after=after, limit=limit
    )


async def list_events(
    conn: asyncpg.Connection, record_id: uuid.UUID
) -> list[CredentialingEventOut]:
    rows = await conn.fetch(
        """
        SELECT id, from_status, to_status, actor_user_id, reason, at
        FROM credentialing_events WHERE record_id = $1 ORDER BY id
        """,
        record_id,
    )
    return to_structs(rows, CredentialingEventOut)


async def get_credentialed(
    conn: asyncpg.Connection, provider_id: uuid.UUID, payer_id: uuid.UUID, on: date
) -> bool:
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (
            SELECT 1 FROM credentialing_records
            WHERE provider_id = $1 AND payer_id = $2 AND status IN ('approved', 'expired')
              AND effective_on <= $3 AND ends_on >= $3
        )
        """,
        provider_id,
        payer_id,
        on,
    )
    return found


async def update_expire_ended(
    conn: asyncpg.Connection, today: date, reason: str
) -> list[uuid.UUID]:
    """Approved records whose end date has passed become expired, each with a system event.

    One statement: a concurrent run blocks on the same rows, re-reads them as expired after
    the first commits, and skips them (READ COMMITTED re-checks the WHERE on the new version).
    """
    rows = await conn.fetch(
        """
        WITH expired AS (
            UPDATE credentialing_records SET status = 'expired', updated_at = $3
            WHERE status = 'approved' AND ends_on < $1
            RETURNING id
        )
        INSERT INTO credentialing_events
            (record_id, from_status, to_status, actor_user_id, reason, at)
        SELECT id, 'approved', 'expired', NULL, $2, $3 FROM expired
        RETURNING record_id
        """,
        today,
        reason,
        clock.now(),
    )
    return [r["record_id"] for r in rows]


async def update_flag_expiring(
    conn: asyncpg.Connection, today: date, until: date
) -> list[uuid.UUID]:
    """Flag, once, approved records ending between today and `until` (inclusive)."""
    rows = await conn.fetch(
        """
        UPDATE credentialing_records SET expiry_warned_at = $3, updated_at = $3
        WHERE status = 'approved' AND expiry_warned_at IS NULL
          AND ends_on BETWEEN $1 AND $2
        RETURNING id
        """,
        today,
        until,
        clock.now(),
    )
    return [r["id"] for r in rows]
