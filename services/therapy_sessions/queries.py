"""SQL for therapy sessions.

Foreign tables read: providers and clients (whether the parties of a booking exist).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.therapy_sessions import SessionFilters, SessionOut
from services.core import clock
from services.core.db import one, to_struct
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

_COLUMNS = """
    id, provider_id, client_id, policy_id, starts_at, duration_minutes, place_of_service,
    status, cancelled_at, cancel_reason, cancelled_by, created_by, created_at, updated_at
"""
# $2 provider, $3 client: the caller's scope (services.core.scope; NULL: ops, every session).
_SCOPED = (
    "SELECT" + _COLUMNS + "FROM therapy_sessions WHERE id = $1"
    " AND ($2::uuid IS NULL OR provider_id = $2 OR client_id = $3)"
)


async def provider_exists(conn: asyncpg.Connection, provider_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM providers WHERE id = $1)", provider_id
    )
    return bool(found)


async def client_exists(conn: asyncpg.Connection, client_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM clients WHERE id = $1)", client_id)
    )


async def get_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, scope: Scope
) -> SessionOut | None:
    row = await conn.fetchrow(_SCOPED, session_id, *scope)
    return to_struct(row, SessionOut)


async def lock_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, scope: Scope
) -> SessionOut | None:
    row = await conn.fetchrow(_SCOPED + " FOR UPDATE", session_id, *scope)
    return to_struct(row, SessionOut)


async def list_sessions(
    conn: asyncpg.Connection,
    f: SessionFilters,
    scope: Scope,
    after: After | None,
    limit: int,
) -> list[SessionOut]:
    """The sessions `f` asks for, within the caller's scope."""
    query = (
        "SELECT"
        + _COLUMNS
        + """
        FROM therapy_sessions
        WHERE ($1::uuid IS NULL OR provider_id = $1)
          AND ($2::uuid IS NULL OR client_id = $2)
          AND ($3::text IS NULL OR status = $3)
          AND ($4::timestamptz IS NULL OR starts_at >= $4)
          AND ($5::timestamptz IS NULL OR starts_at < $5)
          AND ($6::uuid IS NULL OR provider_id = $6 OR client_id = $7)
        """
    )
    filters = (f.provider_id, f.client_id, f.status, f.starts_from, f.starts_to)
    return await fetch_page(conn, SessionOut, query, *filters, *scope, after=after, limit=limit)


async def insert_session(
    conn: asyncpg.Connection,
    *,
    provider_id: uuid.UUID,
    client_id: uuid.UUID,
    policy_id: uuid.UUID | None,
    starts_at: datetime,
    duration_minutes: int,
    place_of_service: str,
    created_by: uuid.UUID,
) -> SessionOut:
    row = await conn.fetchrow(
        """
        INSERT INTO therapy_sessions (provider_id, client_id, policy_id, starts_at,
                                      duration_minutes, place_of_service, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        provider_id,
        client_id,
        policy_id,
        starts_at,
        duration_minutes,
        place_of_service,
        created_by,
    )
    return one(row, SessionOut)


async def update_cancel(
    conn: asyncpg.Connection, session_id: uuid.UUID, reason: str, by: uuid.UUID
) -> SessionOut:
    row = await conn.fetchrow(
        """
        UPDATE therapy_sessions
        SET status = 'cancelled', cancelled_at = $4, cancel_reason = $2, cancelled_by = $3,
            updated_at = $4
        WHERE id = $1
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        session_id,
        reason,
        by,
        clock.now(),
    )
    return one(row, SessionOut)


async def update_no_show(conn: asyncpg.Connection, session_id: uuid.UUID) -> SessionOut:
    row = await conn.fetchrow(
        """
        UPDATE therapy_sessions SET status = 'no_show', updated_at = $2
        WHERE id = $1
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        session_id,
        clock.now(),
    )
    return one(row, SessionOut)
