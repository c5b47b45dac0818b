"""SQL for therapy sessions.

Foreign tables read: providers and clients (whether the parties of a booking exist);
benefit_checks and insurance_policies (the coverage queue shows the status and carve-out of
the check a session was held on, and the policy's payer).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.therapy_sessions import (
    CompleteSessionIn,
    CoverageHoldOut,
    HeldSessionRow,
    SessionFilters,
    SessionLineOut,
    SessionOut,
)
from services.core import audit, clock
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

_COLUMNS = """
    id, provider_id, client_id, policy_id, starts_at, duration_minutes, place_of_service,
    status, cancelled_at, cancel_reason, cancelled_by, created_by, created_at, updated_at,
    diagnosis_codes, started_at, actual_minutes, note_attested, confirmed_at, confirmed_by,
    prior_authorization_id, edit_count, edited_at, edited_by
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


async def update_confirm_with_lines(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    data: CompleteSessionIn,
    diagnosis_codes: list[str],
    by: uuid.UUID,
    prior_authorization_id: uuid.UUID | None,
    audited: tuple[str, audit.Author],
) -> SessionOut:
    """update_confirm, the session's lines (as insert_lines writes them) and its "update"
    audit row (`audited`: the entity's name and the author) in one statement."""
    row = await conn.fetchrow(
        """
        WITH s AS (
            UPDATE therapy_sessions
            SET status = 'confirmed', diagnosis_codes = $2, place_of_service = $3,
                started_at = $4, actual_minutes = $5, note_attested = $6, confirmed_at = $7,
                confirmed_by = $8, prior_authorization_id = $9, updated_at = $7
            WHERE id = $1
            RETURNING"""  # noqa: S608 (constant column list and core's audit CTE, no input)
        + _COLUMNS
        + """
        ), l AS (
            INSERT INTO therapy_session_lines (therapy_session_id, line_number, cpt_code,
                                               modifiers, diagnosis_pointers)
            SELECT s.id, n, code, string_to_array(mods, ','),
                   string_to_array(ptrs, ',')::smallint[]
            FROM s, unnest($10::text[], $11::text[], $12::text[])
                        WITH ORDINALITY AS l (code, mods, ptrs, n)
        ), """
        + audit.create_rows("s", 13, "update")
        + " SELECT"
        + _COLUMNS
        + "FROM s",
        session_id,
        diagnosis_codes,
        data.place_of_service,
        data.started_at,
        data.duration_minutes,
        data.note_attested,
        clock.now(),
        by,
        prior_authorization_id,
        *_line_arrays(data),
        *audit.create_args(*audited),
    )
    return one(row, SessionOut)


async def update_coding(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    data: CompleteSessionIn,
    diagnosis_codes: list[str],
    by: uuid.UUID,
    prior_authorization_id: uuid.UUID | None,
) -> SessionOut:
    """An edit of a confirmed session's coding: counted, its time and user kept."""
    now = clock.now()
    row = await conn.fetchrow(
        """
        UPDATE therapy_sessions
        SET diagnosis_codes = $2, place_of_service = $3, started_at = $4, actual_minutes = $5,
            prior_authorization_id = $6, edit_count = edit_count + 1, edited_at = $7,
            edited_by = $8, updated_at = $7
        WHERE id = $1 AND status = 'confirmed'
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        session_id,
        diagnosis_codes,
        data.place_of_service,
        data.started_at,
        data.duration_minutes,
        prior_authorization_id,
        now,
        by,
    )
    return one(row, SessionOut)


async def delete_lines(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM therapy_session_lines WHERE therapy_session_id = $1", session_id
    )


_LINE_COLUMNS = "line_number, cpt_code, modifiers, diagnosis_pointers"


async def insert_lines(
    conn: asyncpg.Connection, session_id: uuid.UUID, data: CompleteSessionIn
) -> list[SessionLineOut]:
    rows = await conn.fetch(
        """
        INSERT INTO therapy_session_lines (therapy_session_id, line_number, cpt_code, modifiers,
                                           diagnosis_pointers)
        SELECT $1, n, code, string_to_array(mods, ','), string_to_array(ptrs, ',')::smallint[]
        FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS l(code, mods, ptrs, n)
        RETURNING """  # noqa: S608 (constant column list, no input)
        + _LINE_COLUMNS,
        session_id,
        *_line_arrays(data),
    )
    return sorted(to_structs(rows, SessionLineOut), key=lambda line: line.line_number)


def _line_arrays(data: CompleteSessionIn) -> tuple[list[str], list[str], list[str]]:
    """The lines' codes, modifiers and pointers as the line INSERTs unnest them."""
    return (
        [line.cpt_code for line in data.lines],
        [",".join(line.modifiers) for line in data.lines],
        [",".join(map(str, line.diagnosis_pointers)) for line in data.lines],
    )


async def list_lines(conn: asyncpg.Connection, session_id: uuid.UUID) -> list[SessionLineOut]:
    rows = await conn.fetch(
        "SELECT " + _LINE_COLUMNS + " FROM therapy_session_lines"  # noqa: S608 (constant)
        " WHERE therapy_session_id = $1 ORDER BY line_number",
        session_id,
    )
    return to_structs(rows, SessionLineOut)


async def update_prior_authorization(
    conn: asyncpg.Connection, session_id: uuid.UUID, prior_authorization_id: uuid.UUID
) -> SessionOut:
    row = await conn.fetchrow(
        """
        UPDATE therapy_sessions SET prior_authorization_id = $2, updated_at = $3
        WHERE id = $1
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        session_id,
        prior_authorization_id,
        clock.now(),
    )
    return one(row, SessionOut)


async def update_billing_hold(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    hold: str,
    benefit_check_id: uuid.UUID | None,
    offset_minutes: int,
    at: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE therapy_sessions
        SET billing_hold = $2, billing_hold_check_id = $3, billing_hold_offset_minutes = $4,
            billing_hold_at = $5, updated_at = $5
        WHERE id = $1
        """,
        session_id,
        hold,
        benefit_check_id,
        offset_minutes,
        at,
    )


async def lock_held(conn: asyncpg.Connection, session_id: uuid.UUID) -> HeldSessionRow | None:
    """The session's hold and settlement, locked; None when unknown."""
    row = await conn.fetchrow(
        """
        SELECT id, billing_hold, billing_hold_offset_minutes, billing_settlement
        FROM therapy_sessions WHERE id = $1 FOR UPDATE
        """,
        session_id,
    )
    return to_struct(row, HeldSessionRow)


async def update_settlement(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    outcome: str,
    reason: str | None,
    by: uuid.UUID,
    at: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE therapy_sessions
        SET billing_settlement = $2, billing_settlement_reason = $3, billing_settled_by = $4,
            billing_settled_at = $5, updated_at = $5
        WHERE id = $1
        """,
        session_id,
        outcome,
        reason,
        by,
        at,
    )


async def list_coverage_holds(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[CoverageHoldOut]:
    """Held sessions not settled, longest waiting first (keyset on billing_hold_at, id)."""
    since, last_id = after or (None, None)
    rows = await conn.fetch(
        """
        SELECT s.id, s.provider_id, s.client_id, s.policy_id, s.started_at, s.confirmed_at,
               s.billing_hold, s.billing_hold_at AS held_since,
               s.billing_hold_check_id AS benefit_check_id, b.status AS benefit_check_status,
               b.benefits -> 'carve_out' AS carve_out, p.payer_id, s.created_at
        FROM therapy_sessions s
        LEFT JOIN benefit_checks b ON b.id = s.billing_hold_check_id
        LEFT JOIN insurance_policies p ON p.id = s.policy_id
        WHERE s.billing_hold IS NOT NULL AND s.billing_settlement IS NULL
          AND ($1::timestamptz IS NULL OR (s.billing_hold_at, s.id) > ($1, $2::uuid))
        ORDER BY s.billing_hold_at, s.id
        LIMIT $3
        """,
        since,
        last_id,
        limit,
    )
    return to_structs(rows, CoverageHoldOut)


async def count_coverage_holds(conn: asyncpg.Connection) -> int:
    """How many sessions wait on the coverage queue (held, not settled)."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM therapy_sessions"
        " WHERE billing_hold IS NOT NULL AND billing_settlement IS NULL"
    )
    return found
