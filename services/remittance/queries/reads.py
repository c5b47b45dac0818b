"""SQL reading back what the 835 posting stored.

Foreign tables read: claims (a claim's owner, before its remittance is shown; a session's
claims, for its explanation).
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.remittance_posting import (
    AdjustmentRow,
    PaymentRow,
    ProviderAdjustmentOut,
    RemittanceFileRow,
    RemittedClaimQueued,
    RemittedClaimRow,
)
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page

_FILE = """
    SELECT * FROM (
        SELECT id, sha256, source, received_at AS created_at, received_by, byte_size,
               transactions, claims, payment_cents
        FROM remittance_files) f
"""
_PAYMENT = """
    SELECT id, file_id, position, handling, amount_cents, method, payment_date, trace_number,
           trace_originator, payer_name, payer_id, claims, paid_cents, provider_adjustment_cents,
           needs_ops, ops_reason, posted_at
    FROM remittance_payments
"""
_CLAIM = """
    SELECT id, payment_id, ordinal, patient_control_number, status_code, charge_cents,
           paid_cents, patient_responsibility_cents, patient_adjustments_cents,
           payer_claim_number, claim_id, outcome, reversal_of, reversed_by, contractual_cents,
           loss_cents, true_up_cents, estimated_share_cents, estimate_error_cents,
           remark_codes, needs_ops, ops_reason
    FROM remitted_claims
"""


async def list_files(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[RemittanceFileRow]:
    return await fetch_page(
        conn, RemittanceFileRow, _FILE + " WHERE true", after=after, limit=limit,
        newest_first=True,
    )  # fmt: skip


async def get_file(conn: asyncpg.Connection, file_id: uuid.UUID) -> RemittanceFileRow | None:
    return to_struct(await conn.fetchrow(_FILE + " WHERE id = $1", file_id), RemittanceFileRow)


async def get_payment(conn: asyncpg.Connection, payment_id: uuid.UUID) -> PaymentRow:
    found = to_struct(await conn.fetchrow(_PAYMENT + " WHERE id = $1", payment_id), PaymentRow)
    assert found is not None
    return found


async def list_payments_of_file(conn: asyncpg.Connection, file_id: uuid.UUID) -> list[PaymentRow]:
    rows = await conn.fetch(_PAYMENT + " WHERE file_id = $1 ORDER BY position", file_id)
    return to_structs(rows, PaymentRow)


async def list_claims_of_payments(
    conn: asyncpg.Connection, payment_ids: list[uuid.UUID]
) -> list[RemittedClaimRow]:
    rows = await conn.fetch(
        _CLAIM + " WHERE payment_id = ANY($1::uuid[]) ORDER BY payment_id, ordinal", payment_ids
    )
    return to_structs(rows, RemittedClaimRow)


async def list_claims_of_claim(
    conn: asyncpg.Connection, claim_id: uuid.UUID
) -> list[tuple[str, object, RemittedClaimRow]]:
    """Every remittance of one claim with its payment's trace and date, oldest first."""
    rows = await conn.fetch(
        """
        SELECT p.trace_number, p.payment_date, r.id FROM remitted_claims r
        JOIN remittance_payments p ON p.id = r.payment_id
        WHERE r.claim_id = $1 ORDER BY p.posted_at, r.ordinal
        """,
        claim_id,
    )
    claims = {
        c.id: c for c in to_structs(
            await conn.fetch(_CLAIM + " WHERE claim_id = $1", claim_id), RemittedClaimRow
        )
    }  # fmt: skip
    return [(r["trace_number"], r["payment_date"], claims[r["id"]]) for r in rows]


async def list_adjustments(
    conn: asyncpg.Connection, remitted_claim_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, AdjustmentRow]]:
    rows = await conn.fetch(
        """
        SELECT a.remitted_claim_id,
               CASE WHEN a.remitted_line_id IS NULL THEN 'claim' ELSE 'line' END AS level,
               l.line_control_number, a.carc_group AS "group", a.carc_code AS code,
               a.amount_cents, a.quantity::text AS quantity, a.remark_codes
        FROM remittance_adjustments a LEFT JOIN remitted_lines l ON l.id = a.remitted_line_id
        WHERE a.remitted_claim_id = ANY($1::uuid[]) ORDER BY a.id
        """,
        remitted_claim_ids,
    )
    out = []
    for row in rows:
        values = dict(row)
        owner = values.pop("remitted_claim_id")
        out.append((owner, AdjustmentRow(**values)))
    return out


async def list_provider_adjustments(
    conn: asyncpg.Connection, payment_id: uuid.UUID
) -> list[ProviderAdjustmentOut]:
    rows = await conn.fetch(
        """
        SELECT ordinal, reason, reference, amount_cents, claim_id, account, needs_ops
        FROM remittance_provider_adjustments WHERE payment_id = $1 ORDER BY ordinal
        """,
        payment_id,
    )
    return to_structs(rows, ProviderAdjustmentOut)


async def claim_visible(
    conn: asyncpg.Connection, claim_id: uuid.UUID, provider_id: uuid.UUID | None
) -> bool:
    """Whether the claim exists and, for a provider, is theirs."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM claims WHERE id = $1"
        " AND ($2::uuid IS NULL OR provider_id = $2))",
        claim_id,
        provider_id,
    )
    return found


async def list_needs_ops(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[RemittedClaimQueued]:
    """Remitted claims waiting on ops (unmatched, held statuses, unknown CARCs...), oldest first."""
    query = """
        SELECT * FROM (
            SELECT r.id, p.posted_at AS created_at, p.trace_number, p.payment_date,
                   r.patient_control_number, r.status_code, r.paid_cents, r.claim_id,
                   r.outcome, r.ops_reason
            FROM remitted_claims r JOIN remittance_payments p ON p.id = r.payment_id
            WHERE r.needs_ops) q
        WHERE true
    """
    return await fetch_page(conn, RemittedClaimQueued, query, after=after, limit=limit)


async def list_session_claims(
    conn: asyncpg.Connection, session_id: uuid.UUID
) -> list[tuple[uuid.UUID, int]]:
    """A session's claims (one per payer) with what each billed, oldest first."""
    rows = await conn.fetch(
        "SELECT id, total_charge_cents FROM claims WHERE therapy_session_id = $1"
        " ORDER BY created_at, id",
        session_id,
    )
    return [(row["id"], row["total_charge_cents"]) for row in rows]
