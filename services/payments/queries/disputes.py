"""SQL of the payment problems ops work on: disputes (client_disputes), refunds that did not
reach the client (failed_refunds) and captures Hearth would not book (payment_exceptions).
Reads client_true_ups (remittance's: a failed refund's true-up and its status)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from schemas.payments import (
    DisputeAction,
    DisputeOut,
    DisputeStatus,
    FailedRefundAction,
    FailedRefundOut,
    PaymentExceptionAction,
    PaymentExceptionKind,
    PaymentExceptionOut,
    QueueState,
)
from services.core.pagination import After, fetch_page

_DISPUTE = """
    SELECT id, stripe_dispute_id, charge_id, client_id, status, reason, amount_cents,
           evidence_due_by, funds_withdrawn_cents, fee_cents, funds_reinstated_cents,
           fee_returned_cents, outcome, closed_at, resolution, resolution_note, resolved_at,
           balance_charge_id, created_at, updated_at
    FROM client_disputes
"""


async def get_charge_of_stripe(
    conn: asyncpg.Connection, intent: str | None, stripe_charge: str | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(our charge, its client) by the PaymentIntent's id, else Stripe's charge id."""
    row = await conn.fetchrow(
        """
        SELECT id, client_id FROM client_charges
        WHERE payment_intent_id = $1 OR ($2::text IS NOT NULL AND stripe_charge_id = $2)
        ORDER BY (payment_intent_id = $1) DESC NULLS LAST LIMIT 1
        """,
        intent,
        stripe_charge,
    )
    return None if row is None else (row["id"], row["client_id"])


async def insert_dispute(
    conn: asyncpg.Connection, stripe_id: str, charge: tuple[uuid.UUID, uuid.UUID],
    opened: tuple[DisputeStatus, str, int], now: datetime,
) -> None:  # fmt: skip
    """The dispute's row once (status, reason and amount as first read)."""
    status, reason, amount = opened
    await conn.execute(
        """
        INSERT INTO client_disputes
            (stripe_dispute_id, charge_id, client_id, status, reason, amount_cents, created_at,
             updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
        ON CONFLICT (stripe_dispute_id) DO NOTHING
        """,
        stripe_id, charge[0], charge[1], status, reason, amount, now,
    )  # fmt: skip


async def lock_dispute_by_stripe_id(conn: asyncpg.Connection, stripe_id: str) -> DisputeOut:
    row = await conn.fetchrow(_DISPUTE + "WHERE stripe_dispute_id = $1 FOR UPDATE", stripe_id)
    assert row is not None, "insert_dispute first"
    return msgspec.convert(dict(row), DisputeOut)


async def lock_dispute(conn: asyncpg.Connection, dispute_id: uuid.UUID) -> DisputeOut | None:
    row = await conn.fetchrow(_DISPUTE + "WHERE id = $1 FOR UPDATE", dispute_id)
    return None if row is None else msgspec.convert(dict(row), DisputeOut)


async def get_dispute(conn: asyncpg.Connection, dispute_id: uuid.UUID) -> DisputeOut | None:
    row = await conn.fetchrow(_DISPUTE + "WHERE id = $1", dispute_id)
    return None if row is None else msgspec.convert(dict(row), DisputeOut)


async def update_dispute(conn: asyncpg.Connection, dispute: DisputeOut) -> None:
    """What Stripe says now (the service keeps figures from falling and closed from reopening)."""
    await conn.execute(
        """
        UPDATE client_disputes SET status = $2, reason = $3, amount_cents = $4,
            evidence_due_by = $5, funds_withdrawn_cents = $6, fee_cents = $7,
            funds_reinstated_cents = $8, fee_returned_cents = $9, outcome = $10, closed_at = $11,
            updated_at = $12
        WHERE id = $1
        """,
        dispute.id, dispute.status, dispute.reason, dispute.amount_cents, dispute.evidence_due_by,
        dispute.funds_withdrawn_cents, dispute.fee_cents, dispute.funds_reinstated_cents,
        dispute.fee_returned_cents, dispute.outcome, dispute.closed_at, dispute.updated_at,
    )  # fmt: skip


async def update_dispute_resolved(
    conn: asyncpg.Connection, dispute_id: uuid.UUID, action: DisputeAction, note: str,
    user_id: uuid.UUID, balance_charge_id: uuid.UUID | None, now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        """
        UPDATE client_disputes SET resolution = $2, resolution_note = $3, resolved_by = $4,
            balance_charge_id = $5, resolved_at = $6, updated_at = $6
        WHERE id = $1
        """,
        dispute_id, action, note, user_id, balance_charge_id, now,
    )  # fmt: skip


async def list_disputes(
    conn: asyncpg.Connection, status: DisputeStatus | None, after: After | None, limit: int
) -> list[DisputeOut]:
    """Newest first, by Stripe's status when given."""
    return await fetch_page(
        conn, DisputeOut, _DISPUTE + "WHERE ($1::text IS NULL OR status = $1)", status,
        after=after, limit=limit, newest_first=True,
    )  # fmt: skip


_FAILED_REFUND = """
    SELECT f.id, f.refund_id, f.client_id, r.charge_id, r.true_up_id, t.status AS true_up_status,
           f.amount_cents, f.failure_reason, f.resolution, f.resolution_note, f.resolved_at,
           f.created_at
    FROM failed_refunds f JOIN client_refunds r ON r.id = f.refund_id
    JOIN client_true_ups t ON t.id = r.true_up_id
"""


async def insert_failed_refund(
    conn: asyncpg.Connection, refund_id: uuid.UUID, client_id: uuid.UUID, amount_cents: int,
    reason: str, now: datetime,
) -> uuid.UUID | None:  # fmt: skip
    """The refund in the queue once; None when it is there already."""
    queued: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO failed_refunds
            (refund_id, client_id, amount_cents, failure_reason, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $5)
        ON CONFLICT (refund_id) DO NOTHING RETURNING id
        """,
        refund_id, client_id, amount_cents, reason, now,
    )  # fmt: skip
    return queued


async def list_failed_refunds(
    conn: asyncpg.Connection, state: QueueState, after: After | None, limit: int
) -> list[FailedRefundOut]:
    """Oldest first: the open ones (or those resolved)."""
    return await fetch_page(
        conn, FailedRefundOut, _FAILED_REFUND + "WHERE (f.resolution IS NULL) = ($1 = 'open')",
        state, after=after, limit=limit, alias="f",
    )  # fmt: skip


async def lock_failed_refund(
    conn: asyncpg.Connection, failed_id: uuid.UUID
) -> FailedRefundOut | None:
    row = await conn.fetchrow(_FAILED_REFUND + "WHERE f.id = $1 FOR UPDATE OF f", failed_id)
    return None if row is None else msgspec.convert(dict(row), FailedRefundOut)


async def update_failed_refund_resolved(
    conn: asyncpg.Connection, failed_id: uuid.UUID, action: FailedRefundAction, note: str,
    user_id: uuid.UUID, now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        """
        UPDATE failed_refunds SET resolution = $2, resolution_note = $3, resolved_by = $4,
            resolved_at = $5, updated_at = $5
        WHERE id = $1
        """,
        failed_id, action, note, user_id, now,
    )  # fmt: skip


_EXCEPTION = """
    SELECT id, charge_id, client_id, kind, payment_intent_id, stripe_charge_id, expected_cents,
           captured_cents, fee_cents, net_cents, resolution, resolution_note, resolved_at,
           created_at
    FROM payment_exceptions
"""


async def insert_exception(
    conn: asyncpg.Connection, charge: tuple[uuid.UUID, uuid.UUID, int],
    kind: PaymentExceptionKind, stripe_ids: tuple[str, str], figures: tuple[int, int, int],
    now: datetime,
) -> uuid.UUID | None:  # fmt: skip
    """The capture in the queue once per (charge, intent); None when it is there already."""
    charge_id, client_id, expected = charge
    captured, fee, net = figures
    queued: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO payment_exceptions
            (charge_id, client_id, kind, payment_intent_id, stripe_charge_id, expected_cents,
             captured_cents, fee_cents, net_cents, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
        ON CONFLICT ON CONSTRAINT payment_exceptions_once DO NOTHING RETURNING id
        """,
        charge_id, client_id, kind, stripe_ids[0], stripe_ids[1], expected, captured, fee, net,
        now,
    )  # fmt: skip
    return queued


async def list_exceptions(
    conn: asyncpg.Connection, state: QueueState, after: After | None, limit: int
) -> list[PaymentExceptionOut]:
    return await fetch_page(
        conn, PaymentExceptionOut, _EXCEPTION + "WHERE (resolution IS NULL) = ($1 = 'open')",
        state, after=after, limit=limit,
    )  # fmt: skip


async def lock_exception(
    conn: asyncpg.Connection, exception_id: uuid.UUID
) -> PaymentExceptionOut | None:
    row = await conn.fetchrow(_EXCEPTION + "WHERE id = $1 FOR UPDATE", exception_id)
    return None if row is None else msgspec.convert(dict(row), PaymentExceptionOut)


async def update_exception_resolved(
    conn: asyncpg.Connection, exception_id: uuid.UUID, action: PaymentExceptionAction,
    note: str, user_id: uuid.UUID, now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        """
        UPDATE payment_exceptions SET resolution = $2, resolution_note = $3, resolved_by = $4,
            resolved_at = $5, updated_at = $5
        WHERE id = $1
        """,
        exception_id, action, note, user_id, now,
    )  # fmt: skip


async def get_true_up_cents(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> int | None:
    """The true-up's signed amount (negative: owed to the client); reads client_true_ups."""
    cents: int | None = await conn.fetchval(
        "SELECT amount_cents FROM client_true_ups WHERE id = $1", true_up_id
    )
    return cents
