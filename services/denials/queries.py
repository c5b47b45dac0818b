"""SQL of the denial work queue: denials read, resolutions, appeals and their notes.

Foreign tables read: remitted_claims, remittance_payments and remittance_adjustments (what the
835 denied and why), claims and claim_submissions (the claim, and a replacement or void made
since through /claims), payers (timely_filing_days, appeal_window_days, name), providers (name).
One query beats several here: the queue is filtered, grouped and paged over all of them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from schemas.denials import AppealNoteOut, AppealRow, DenialRow, ResolutionAction
from services.core.db import one, to_struct, to_structs


class GroupTotals(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    count: int
    denied_cents: int
    loss_cents: int


class ResolutionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    remitted_claim_id: uuid.UUID
    claim_id: uuid.UUID
    action: ResolutionAction
    note: str
    submission_id: uuid.UUID | None
    appeal_id: uuid.UUID | None
    resolved_by: uuid.UUID
    resolved_at: datetime


# Every denial instance, resolved or not: a remitted claim the 835 denied, or paid in part with
# a loss (a line denied inside a paid claim). Its reason is the group and CARC of its largest
# loss adjustment, counted as posting counts one (services/remittance/posting.is_loss): not PR
# (the client owes it), not CO-45 (the fee schedule), CO-18 (a duplicate) or OA-23 (a prior
# payer's adjudication), and positive. `superseded_*` is the first replacement or void made
# after the denied version.
_DENIALS = """
    SELECT * FROM (
        SELECT r.id, p.posted_at AS created_at, r.claim_id, c.claim_number, c.provider_id,
               pr.first_name || ' ' || pr.last_name AS provider_name, c.payer_id,
               py.name AS payer_name, c.service_date, r.outcome, r.status_code,
               r.charge_cents AS billed_cents, r.paid_cents,
               coalesce(x.denied_cents, 0) AS denied_cents, r.loss_cents,
               coalesce(x.reason, 'none') AS reason, r.remark_codes, r.payer_claim_number,
               p.trace_number, p.payment_date,
               c.service_date + py.timely_filing_days AS filing_deadline,
               p.payment_date + py.appeal_window_days AS appeal_deadline,
               r.reversed_by IS NOT NULL AS reversed, dr.id AS resolution_id,
               later.id AS superseded_by, later.frequency AS superseded_frequency,
               later.created_at AS superseded_at
        FROM remitted_claims r
        JOIN remittance_payments p ON p.id = r.payment_id
        JOIN claims c ON c.id = r.claim_id
        JOIN payers py ON py.id = c.payer_id
        JOIN providers pr ON pr.id = c.provider_id
        LEFT JOIN claim_submissions s ON s.id = r.submission_id
        LEFT JOIN denial_resolutions dr ON dr.remitted_claim_id = r.id
        LEFT JOIN LATERAL (
            SELECT l.id, l.frequency, l.created_at FROM claim_submissions l
            WHERE l.claim_id = r.claim_id AND l.version > coalesce(s.version, 0)
              AND l.frequency IN ('7', '8')
            ORDER BY l.version LIMIT 1) later ON true
        CROSS JOIN LATERAL (
            SELECT (array_agg(a.carc_group || '-' || a.carc_code
                              ORDER BY a.amount_cents DESC, a.id) FILTER (WHERE a.loss))[1]
                       AS reason,
                   sum(a.amount_cents) FILTER (WHERE a.loss)::bigint AS denied_cents
            FROM (SELECT a.id, a.carc_group, a.carc_code, a.amount_cents,
                         a.carc_group <> 'PR' AND a.carc_code NOT IN ('45', '18')
                         AND NOT (a.carc_group = 'OA' AND a.carc_code = '23')
                         AND a.amount_cents > 0 AS loss
                  FROM remittance_adjustments a WHERE a.remitted_claim_id = r.id) a) x
        WHERE r.outcome IN ('denied', 'partially_paid') AND r.reversal_of IS NULL
          AND (r.outcome = 'denied' OR r.loss_cents > 0)
    ) d
"""
# Open: standing, unresolved, not replaced or voided through /claims since.
_OPEN = """
    WHERE NOT d.reversed AND d.resolution_id IS NULL AND d.superseded_by IS NULL
      AND ($1::uuid IS NULL OR d.payer_id = $1) AND ($2::text IS NULL OR d.reason = $2)
"""


async def list_groups(
    conn: asyncpg.Connection, payer_id: uuid.UUID | None, reason: str | None
) -> list[GroupTotals]:
    """The open denials' reasons, each with its count and amounts; the largest first."""
    rows = await conn.fetch(
        "SELECT reason, count(*) AS count, sum(denied_cents)::bigint AS denied_cents,"  # noqa: S608
        " sum(loss_cents)::bigint AS loss_cents FROM ("
        + _DENIALS
        + _OPEN
        + ") g GROUP BY reason ORDER BY count(*) DESC, reason",
        payer_id,
        reason,
    )
    return to_structs(rows, GroupTotals)


async def list_open(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID | None,
    reason: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[DenialRow]:
    """Up to `limit` open denials of each reason (oldest first) after `after` (in one reason)."""
    at, last = after or (None, None)
    rows = await conn.fetch(
        "SELECT * FROM (SELECT d.*, row_number() OVER (PARTITION BY d.reason"  # noqa: S608
        " ORDER BY d.created_at, d.id) AS n FROM ("
        + _DENIALS
        + _OPEN
        + """ AND ($3::timestamptz IS NULL OR (d.created_at, d.id) > ($3, $4::uuid))
            ) d) q
        WHERE n <= $5 ORDER BY reason, created_at, id""",
        payer_id,
        reason,
        at,
        last,
        limit,
    )
    return to_structs(rows, DenialRow)  # its row_number `n` is left out


async def get_denial(conn: asyncpg.Connection, remitted_claim_id: uuid.UUID) -> DenialRow | None:
    """A denial instance whatever its state; None when the remitted claim is no denial."""
    return to_struct(
        await conn.fetchrow(_DENIALS + " WHERE d.id = $1", remitted_claim_id), DenialRow
    )


async def lock_denial(conn: asyncpg.Connection, remitted_claim_id: uuid.UUID) -> None:
    """One action at a time on a denial: the second waits, then finds it resolved."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 31))", remitted_claim_id
    )


_RESOLUTION = """
    SELECT id, remitted_claim_id, claim_id, action, note, submission_id, appeal_id,
           resolved_by, resolved_at
    FROM denial_resolutions
"""


async def get_resolution(
    conn: asyncpg.Connection, remitted_claim_id: uuid.UUID
) -> ResolutionRow | None:
    row = await conn.fetchrow(_RESOLUTION + " WHERE remitted_claim_id = $1", remitted_claim_id)
    return to_struct(row, ResolutionRow)


async def insert_resolution(
    conn: asyncpg.Connection,
    remitted_claim_id: uuid.UUID,
    claim_id: uuid.UUID,
    action: ResolutionAction,
    note: str,
    made: tuple[uuid.UUID | None, uuid.UUID | None],
    by: uuid.UUID,
    at: datetime,
) -> ResolutionRow:
    """The denial's one resolution; `made` is (the correction's version, the appeal)."""
    row = await conn.fetchrow(
        """
        INSERT INTO denial_resolutions (remitted_claim_id, claim_id, action, note, submission_id,
                                        appeal_id, resolved_by, resolved_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING id, remitted_claim_id, claim_id, action, note, submission_id, appeal_id,
                  resolved_by, resolved_at
        """,
        remitted_claim_id, claim_id, action, note, *made, by, at,
    )  # fmt: skip
    return one(row, ResolutionRow)


_APPEAL = """
    SELECT id, claim_id, remitted_claim_id, deadline, deadline_source, status, created_at,
           created_by, updated_at, updated_by, submitted_at, submitted_by, closed_at, closed_by
    FROM claim_appeals
"""


async def insert_appeal(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    remitted_claim_id: uuid.UUID,
    deadline: tuple[date, str],
    by: uuid.UUID,
    at: datetime,
) -> AppealRow:
    row = await conn.fetchrow(
        """
        INSERT INTO claim_appeals (claim_id, remitted_claim_id, deadline, deadline_source,
                                   created_at, created_by, updated_at, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, $5, $6)
        RETURNING id, claim_id, remitted_claim_id, deadline, deadline_source, status,
                  created_at, created_by, updated_at, updated_by, submitted_at, submitted_by,
                  closed_at, closed_by
        """,
        claim_id, remitted_claim_id, *deadline, at, by,
    )  # fmt: skip
    return one(row, AppealRow)


async def get_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> AppealRow | None:
    return to_struct(await conn.fetchrow(_APPEAL + " WHERE id = $1", appeal_id), AppealRow)


async def lock_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> AppealRow | None:
    row = await conn.fetchrow(_APPEAL + " WHERE id = $1 FOR UPDATE", appeal_id)
    return to_struct(row, AppealRow)


async def update_appeal_status(
    conn: asyncpg.Connection, appeal_id: uuid.UUID, status: str, by: uuid.UUID, at: datetime
) -> AppealRow:
    """The new status; submitted and closed stamped when the appeal reaches them."""
    row = await conn.fetchrow(
        """
        UPDATE claim_appeals SET status = $2, updated_at = $4, updated_by = $3,
            submitted_at = CASE WHEN $2 = 'submitted' THEN $4 ELSE submitted_at END,
            submitted_by = CASE WHEN $2 = 'submitted' THEN $3 ELSE submitted_by END,
            closed_at = CASE WHEN $2 IN ('won', 'lost', 'withdrawn') THEN $4 ELSE closed_at END,
            closed_by = CASE WHEN $2 IN ('won', 'lost', 'withdrawn') THEN $3 ELSE closed_by END
        WHERE id = $1
        RETURNING id, claim_id, remitted_claim_id, deadline, deadline_source, status,
                  created_at, created_by, updated_at, updated_by, submitted_at, submitted_by,
                  closed_at, closed_by
        """,
        appeal_id, status, by, at,
    )  # fmt: skip
    return one(row, AppealRow)


async def insert_note(
    conn: asyncpg.Connection,
    appeal_id: uuid.UUID,
    body: str | None,
    change: tuple[str | None, str] | None,
    by: uuid.UUID,
    at: datetime,
) -> AppealNoteOut:
    """A note, or a status change (from, to) with the note that came with it."""
    from_status, to_status = change or (None, None)
    row = await conn.fetchrow(
        """
        INSERT INTO claim_appeal_notes (appeal_id, kind, from_status, to_status, body, author_id,
                                        at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id, appeal_id, kind, from_status, to_status, body, author_id, at
        """,
        appeal_id, "note" if change is None else "status", from_status, to_status, body, by, at,
    )  # fmt: skip
    return one(row, AppealNoteOut)


async def list_notes(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> list[AppealNoteOut]:
    rows = await conn.fetch(
        """
        SELECT id, appeal_id, kind, from_status, to_status, body, author_id, at
        FROM claim_appeal_notes WHERE appeal_id = $1 ORDER BY id
        """,
        appeal_id,
    )
    return to_structs(rows, AppealNoteOut)


async def list_appeals(
    conn: asyncpg.Connection,
    status: str | None,
    due_before: date | None,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[AppealRow]:
    """Appeals by deadline, soonest first (keyset on deadline, id)."""
    deadline, last = after or (None, None)
    rows = await conn.fetch(
        _APPEAL
        + """
        WHERE ($1::text IS NULL OR status = $1) AND ($2::date IS NULL OR deadline < $2)
          AND ($3::date IS NULL OR (deadline, id) > ($3, $4::uuid))
        ORDER BY deadline, id LIMIT $5""",
        status, due_before, deadline, last, limit,
    )  # fmt: skip
    return to_structs(rows, AppealRow)
