"""SQL for the claims API's reads: lists, a claim's history and versions, a session's claim.

Foreign tables read: payers (timely_filing_days, for each claim's filing deadline).
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.claims import (
    ClaimHistoryOut,
    ClaimSummaryOut,
    ClaimVersionOut,
    NeedsOpsClaimOut,
    RejectedClaimOut,
    SessionClaimOut,
)
from schemas.ops import FilingDeadlineItem
from services.claims.queries import ACCEPTED
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

# The claims API's reads. $1 and $2 of every one are the owner scope (services/core/scope.py):
# a provider sees their claims, a client their own, ops and the system every one.
_SUMMARY = """
    SELECT c.id, c.therapy_session_id, c.payer_id, c.provider_id, c.client_id, c.claim_number,
           c.status, c.service_date, c.total_charge_cents,
           c.service_date + p.timely_filing_days AS filing_deadline, c.filing_flagged_at,
           c.created_at, c.updated_at
"""
_VISIBLE = "($1::uuid IS NULL OR c.provider_id = $1 OR c.client_id = $2)"
_SCOPED = (
    """
    FROM claims c JOIN payers p ON p.id = c.payer_id
    WHERE """
    + _VISIBLE
)


async def list_claims(
    conn: asyncpg.Connection,
    scope: Scope,
    status: str | None,
    after: After | None,
    limit: int,
) -> list[ClaimSummaryOut]:
    query = _SUMMARY + _SCOPED + " AND ($3::text IS NULL OR c.status = $3)"
    return await fetch_page(
        conn, ClaimSummaryOut, query, *scope, status, after=after, limit=limit, alias="c"
    )


async def list_rejected(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[RejectedClaimOut]:
    """Rejected claims with their latest rejection's reason (ops: no owner scope)."""
    query = (
        _SUMMARY  # noqa: S608 (constant fragments, no input)
        + """,
           r.reason, r.at AS rejected_at
    FROM claims c JOIN payers p ON p.id = c.payer_id
    CROSS JOIN LATERAL (
        SELECT h.reason, h.at FROM claim_status_history h
        WHERE h.claim_id = c.id AND h.to_status = 'rejected'
        ORDER BY h.id DESC LIMIT 1) r
    WHERE c.status = 'rejected'"""
    )
    return await fetch_page(conn, RejectedClaimOut, query, after=after, limit=limit, alias="c")


async def list_filing_deadlines(
    conn: asyncpg.Connection, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[ClaimSummaryOut]:
    """Flagged claims not yet accepted, soonest deadline first (keyset on deadline, id)."""
    deadline, last_id = after or (None, None)
    rows = await conn.fetch(
        _SUMMARY
        + """
        FROM claims c JOIN payers p ON p.id = c.payer_id
        WHERE c.filing_flagged_at IS NOT NULL AND NOT"""
        + ACCEPTED
        + """
          AND ($1::date IS NULL
               OR (c.service_date + p.timely_filing_days, c.id) > ($1, $2::uuid))
        ORDER BY c.service_date + p.timely_filing_days, c.id
        LIMIT $3""",
        deadline,
        last_id,
        limit,
    )
    return to_structs(rows, ClaimSummaryOut)


async def list_needs_ops(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[NeedsOpsClaimOut]:
    """Claims flagged for ops, longest waiting first (keyset on ops_since, id)."""
    since, last_id = after or (None, None)
    rows = await conn.fetch(
        _SUMMARY
        + """, c.ops_kind, c.ops_reason, c.ops_since
        FROM claims c JOIN payers p ON p.id = c.payer_id
        WHERE c.needs_ops
          AND ($1::timestamptz IS NULL OR (c.ops_since, c.id) > ($1, $2::uuid))
        ORDER BY c.ops_since, c.id
        LIMIT $3""",
        since,
        last_id,
        limit,
    )
    return to_structs(rows, NeedsOpsClaimOut)


async def get_visible_claim(
    conn: asyncpg.Connection, scope: Scope, claim_id: uuid.UUID
) -> ClaimSummaryOut | None:
    row = await conn.fetchrow(_SUMMARY + _SCOPED + " AND c.id = $3", *scope, claim_id)
    return to_struct(row, ClaimSummaryOut)


async def list_history(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[ClaimHistoryOut]:
    rows = await conn.fetch(
        """
        SELECT from_status, to_status, reason, actor_user_id, at, ops_event
        FROM claim_status_history WHERE claim_id = $1 ORDER BY id
        """,
        claim_id,
    )
    return to_structs(rows, ClaimHistoryOut)


async def list_versions(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[ClaimVersionOut]:
    rows = await conn.fetch(
        """
        SELECT s.id, s.version, s.frequency, s.clm01, s.created_at, s.batch_id,
               ARRAY(SELECT f.id FROM claim_batch_files f
                     WHERE f.batch_id = s.batch_id ORDER BY f.id) AS file_ids,
               s.ack_codes, s.payer_claim_number, s.accepted_on
        FROM claim_submissions s WHERE s.claim_id = $1 ORDER BY s.version
        """,
        claim_id,
    )
    return to_structs(rows, ClaimVersionOut)


async def list_session_claims(
    conn: asyncpg.Connection, scope: Scope, session_id: uuid.UUID
) -> list[SessionClaimOut]:
    """The claims of a session the caller may see, with the time of their latest status."""
    rows = await conn.fetch(
        """
        SELECT c.id AS claim_id, c.therapy_session_id, c.status, c.service_date,
               (SELECT max(h.at) FROM claim_status_history h
                WHERE h.claim_id = c.id AND h.to_status IS NOT NULL) AS status_since
        FROM claims c
        WHERE c.therapy_session_id = $3 AND """  # noqa: S608 (constant fragments, no input)
        + _VISIBLE
        + " ORDER BY c.created_at, c.id",
        *scope,
        session_id,
    )
    return to_structs(rows, SessionClaimOut)


async def count_open_work(conn: asyncpg.Connection) -> tuple[int, int]:
    """(claims flagged for ops, rejected claims awaiting their corrected resend)."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE needs_ops) AS flagged,"
        " count(*) FILTER (WHERE status = 'rejected') AS rejected"
        " FROM claims WHERE needs_ops OR status = 'rejected'"
    )
    assert row is not None
    return row["flagged"], row["rejected"]


async def list_deadlines_near(
    conn: asyncpg.Connection, last_day: date, limit: int
) -> tuple[int, list[FilingDeadlineItem]]:
    """Claims not yet accepted (nor answered by an 835) whose filing deadline is on or before
    `last_day`: how many, and the `limit` soonest (deadlines already passed first)."""
    rows = await conn.fetch(
        """
        SELECT c.id AS claim_id, c.claim_number, c.payer_id, c.status, c.service_date,
               c.service_date + p.timely_filing_days AS filing_deadline,
               count(*) OVER () AS total
        FROM claims c JOIN payers p ON p.id = c.payer_id
        WHERE c.status IN ('ready', 'submitted', 'acknowledged', 'rejected')
          AND c.service_date + p.timely_filing_days <= $1::date
          AND c.service_date <= $1::date
          AND NOT"""  # noqa: S608 (constant fragments, no input)
        + ACCEPTED
        + """
        ORDER BY c.service_date + p.timely_filing_days, c.id
        LIMIT $2""",
        last_day,
        limit,
    )
    total = rows[0]["total"] if rows else 0
    items = [FilingDeadlineItem(**{k: v for k, v in r.items() if k != "total"}) for r in rows]
    return total, items
