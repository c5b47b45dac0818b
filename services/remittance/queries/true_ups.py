"""SQL of the client true-ups (client_true_ups) and the estimate accuracy.

Foreign tables read: claims (a true-up's client, a claim's payer, whether it is voided), payers
(their names), payments' client_charges and client_refunds (whether a true-up's settlement began).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from schemas.true_ups import TrueUpKind, TrueUpOut, TrueUpStatus
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page

_COLUMNS = """
    id, claim_id, client_id, remitted_claim_id, kind, reverses_id, estimate_cents, share_cents,
    delta_cents, review_cents, carried_cents, netted_cents, amount_cents, status, reason,
    netted_into_id, decision, decision_note, decided_by, decided_at, ready_at, settled_at,
    closed_at, created_at, updated_at
"""
_SELECT = "SELECT" + _COLUMNS + "FROM client_true_ups"


@dataclass(frozen=True)
class NewTrueUp:
    claim_id: uuid.UUID
    remitted_claim_id: uuid.UUID
    kind: TrueUpKind
    reverses_id: uuid.UUID | None
    estimate_cents: int
    share_cents: int
    delta_cents: int
    review_cents: int
    netted_cents: int
    status: TrueUpStatus
    reason: str


async def insert_true_up(conn: asyncpg.Connection, new: NewTrueUp, at: datetime) -> TrueUpOut:
    """The row, its client the claim's; ready_at and closed_at stamped by its status."""
    row = await conn.fetchrow(
        """
        INSERT INTO client_true_ups (claim_id, client_id, remitted_claim_id, kind, reverses_id,
            estimate_cents, share_cents, delta_cents, review_cents, netted_cents, status, reason,
            ready_at, closed_at, created_at, updated_at)
        SELECT c.id, c.client_id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
               CASE WHEN $10 = 'ready' THEN $12::timestamptz END,
               CASE WHEN $10 = 'closed' THEN $12::timestamptz END, $12, $12
        FROM claims c WHERE c.id = $1
        RETURNING""" + _COLUMNS,  # noqa: S608 - a constant column list
        new.claim_id, new.remitted_claim_id, new.kind, new.reverses_id, new.estimate_cents,
        new.share_cents, new.delta_cents, new.review_cents, new.netted_cents, new.status,
        new.reason[:1000], at,
    )  # fmt: skip
    found = to_struct(row, TrueUpOut)
    assert found is not None, "a posted claim exists"
    return found


async def insert_true_ups(
    conn: asyncpg.Connection, rows: Sequence[tuple[NewTrueUp, datetime]]
) -> dict[uuid.UUID, uuid.UUID]:
    """`insert_true_up` of many (each stamped at its own time) in one statement, in their
    order: each row's id by its remitted claim (unique per row)."""
    if not rows:
        return {}
    found = await conn.fetch(
        """
        INSERT INTO client_true_ups (claim_id, client_id, remitted_claim_id, kind, reverses_id,
            estimate_cents, share_cents, delta_cents, review_cents, netted_cents, status, reason,
            ready_at, closed_at, created_at, updated_at)
        SELECT c.id, c.client_id, w.remitted, w.kind, w.reverses, w.estimate, w.share, w.delta,
               w.review, w.netted, w.status, w.reason,
               CASE WHEN w.status = 'ready' THEN w.at END,
               CASE WHEN w.status = 'closed' THEN w.at END, w.at, w.at
        FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::bigint[], $6::bigint[],
                    $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::text[],
                    $12::timestamptz[])
            WITH ORDINALITY AS w (claim_id, remitted, kind, reverses, estimate, share, delta,
                                  review, netted, status, reason, at, n)
        JOIN claims c ON c.id = w.claim_id
        ORDER BY w.n
        RETURNING id, remitted_claim_id
        """,
        [r.claim_id for r, _ in rows], [r.remitted_claim_id for r, _ in rows],
        [r.kind for r, _ in rows], [r.reverses_id for r, _ in rows],
        [r.estimate_cents for r, _ in rows], [r.share_cents for r, _ in rows],
        [r.delta_cents for r, _ in rows], [r.review_cents for r, _ in rows],
        [r.netted_cents for r, _ in rows], [r.status for r, _ in rows],
        [r.reason[:1000] for r, _ in rows], [at for _, at in rows],
    )  # fmt: skip
    assert len(found) == len(rows), "every posted claim exists"
    return {r["remitted_claim_id"]: r["id"] for r in found}


async def lock_of_remitted(
    conn: asyncpg.Connection, remitted_claim_id: uuid.UUID
) -> TrueUpOut | None:
    """The true-up a remitted claim made, locked (what a reversal of it negates)."""
    row = await conn.fetchrow(
        _SELECT + " WHERE remitted_claim_id = $1 FOR UPDATE", remitted_claim_id
    )
    return to_struct(row, TrueUpOut)


async def lock_of_remitted_many(
    conn: asyncpg.Connection, remitted_claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, TrueUpOut]:
    """`lock_of_remitted` of many in one statement, by remitted claim (those that made one)."""
    rows = await conn.fetch(
        _SELECT + " WHERE remitted_claim_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        remitted_claim_ids,
    )
    return {row.remitted_claim_id: row for row in to_structs(rows, TrueUpOut)}


async def list_voided_claims(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these claims the payer accepted our void of (no correction will come)."""
    rows = await conn.fetch(
        "SELECT id FROM claims WHERE id = ANY ($1::uuid[]) AND status = 'voided'", claim_ids
    )
    return {r["id"] for r in rows}


async def get_settlement_begun(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> bool:
    """Whether payments began settling the true-up: its charge or its refund is written."""
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM client_charges
                       WHERE source_table = 'client_true_ups' AND source_id = $1)
            OR EXISTS (SELECT 1 FROM client_refunds WHERE true_up_id = $1)
        """,
        true_up_id,
    )
    return found


async def lock_awaiting(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[TrueUpOut]:
    """The claim's reversals waiting for the correction that nets them, locked."""
    rows = await conn.fetch(
        _SELECT + " WHERE claim_id = $1 AND status = 'awaiting_correction'"
        " ORDER BY created_at, id FOR UPDATE",
        claim_id,
    )
    return to_structs(rows, TrueUpOut)


async def list_claims_awaiting(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these claims have a reversal waiting for its correction."""
    rows = await conn.fetch(
        "SELECT DISTINCT claim_id FROM client_true_ups"
        " WHERE claim_id = ANY ($1::uuid[]) AND status = 'awaiting_correction'",
        claim_ids,
    )
    return {r["claim_id"] for r in rows}


async def update_netted(
    conn: asyncpg.Connection, ids: list[uuid.UUID], into: uuid.UUID, at: datetime
) -> None:
    await conn.execute(
        """
        UPDATE client_true_ups
        SET status = 'closed', netted_into_id = $2, closed_at = $3, updated_at = $3
        WHERE id = ANY($1::uuid[])
        """,
        ids,
        into,
        at,
    )


async def lock_true_up(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> TrueUpOut | None:
    return to_struct(
        await conn.fetchrow(_SELECT + " WHERE id = $1 FOR UPDATE", true_up_id), TrueUpOut
    )


async def get_true_up(
    conn: asyncpg.Connection, true_up_id: uuid.UUID, client_id: uuid.UUID | None
) -> TrueUpOut | None:
    """One true-up; `client_id` confines it to that client's (None: ops, every row)."""
    row = await conn.fetchrow(
        _SELECT + " WHERE id = $1 AND ($2::uuid IS NULL OR client_id = $2)",
        true_up_id,
        client_id,
    )
    return to_struct(row, TrueUpOut)


async def list_true_ups(
    conn: asyncpg.Connection, status: TrueUpStatus | None, after: After | None, limit: int
) -> list[TrueUpOut]:
    """Oldest first: the queue ops work through."""
    return await fetch_page(
        conn, TrueUpOut, _SELECT + " WHERE ($1::text IS NULL OR status = $1)", status,
        after=after, limit=limit,
    )  # fmt: skip


async def update_closed(
    conn: asyncpg.Connection, true_up_id: uuid.UUID, reason: str, at: datetime
) -> None:
    await conn.execute(
        """
        UPDATE client_true_ups SET status = 'closed', reason = $2, closed_at = $3, updated_at = $3
        WHERE id = $1
        """,
        true_up_id,
        reason[:1000],
        at,
    )


async def update_decided(
    conn: asyncpg.Connection,
    true_up_id: uuid.UUID,
    decision: str,
    note: str,
    by: uuid.UUID,
    carried: int,
    status: TrueUpStatus,
    at: datetime,
) -> TrueUpOut:
    """Ops' decision, and the status it leads to (ready or closed) stamped."""
    row = await conn.fetchrow(
        """
        UPDATE client_true_ups
        SET decision = $2, decision_note = $3, decided_by = $4, decided_at = $7,
            carried_cents = $5, status = $6,
            ready_at = CASE WHEN $6 = 'ready' THEN $7::timestamptz END,
            closed_at = CASE WHEN $6 = 'closed' THEN $7::timestamptz END, updated_at = $7
        WHERE id = $1
        RETURNING""" + _COLUMNS,  # noqa: S608 - a constant column list
        true_up_id, decision, note, by, carried, status, at,
    )  # fmt: skip
    found = to_struct(row, TrueUpOut)
    assert found is not None
    return found


async def update_settled(
    conn: asyncpg.Connection,
    true_up_id: uuid.UUID,
    was: TrueUpStatus,
    status: TrueUpStatus,
    at: datetime,
) -> None:
    """`was` -> `status`, stamped (the row locked by the caller in `was`)."""
    await conn.execute(
        """
        UPDATE client_true_ups SET status = $3, settled_at = $4, updated_at = $4
        WHERE id = $1 AND status = $2
        """,
        true_up_id,
        was,
        status,
        at,
    )


@dataclass(frozen=True)
class PayerErrors:
    """A payer's standing adjudications in a window: how many, exact ones, Σ|error|, Σ error."""

    payer_id: uuid.UUID
    payer_name: str
    claims: int
    exact: int
    absolute_cents: int
    error_cents: int


async def list_payer_errors(
    conn: asyncpg.Connection, date_from: date, date_to: date
) -> list[PayerErrors]:
    """Per payer, the standing first adjudications (not reversed, not reversals) of claims whose
    835 payment date is in [from, to]: each claim has at most one standing adjudication."""
    rows = await conn.fetch(
        """
        SELECT c.payer_id, py.name AS payer_name, count(*)::int AS claims,
               (count(*) FILTER (WHERE rc.estimate_error_cents = 0))::int AS exact,
               coalesce(sum(abs(rc.estimate_error_cents)), 0)::bigint AS absolute_cents,
               coalesce(sum(rc.estimate_error_cents), 0)::bigint AS error_cents
        FROM remittance_payments p
        JOIN remitted_claims rc ON rc.payment_id = p.id
        JOIN claims c ON c.id = rc.claim_id
        JOIN payers py ON py.id = c.payer_id
        WHERE p.payment_date BETWEEN $1 AND $2
          AND rc.reversal_of IS NULL AND rc.reversed_by IS NULL
          AND rc.outcome IN ('paid', 'partially_paid', 'denied')
          AND rc.estimated_share_cents IS NOT NULL
        GROUP BY c.payer_id, py.name
        ORDER BY py.name, c.payer_id
        """,
        date_from,
        date_to,
    )
    return [PayerErrors(**dict(r)) for r in rows]


async def list_decisions_of_remitted(
    conn: asyncpg.Connection, remitted_claim_ids: list[uuid.UUID]
) -> tuple[bool, int]:
    """Of these remitted claims' true-ups: is any waiting for ops, and how much ops refused
    (the platform carries it, the client does not owe it)."""
    row = await conn.fetchrow(
        """
        SELECT coalesce(bool_or(status = 'ops_review'), false) AS in_review,
               coalesce(sum(carried_cents), 0)::bigint AS carried
        FROM client_true_ups WHERE remitted_claim_id = ANY($1::uuid[])
        """,
        remitted_claim_ids,
    )
    assert row is not None  # an aggregate always returns its row
    return row["in_review"], row["carried"]
