"""The ops queues of refunds that did not reach the client and of captures Hearth would not
book, and their resolutions (problems.py puts rows in them).

A failed refund leaves the client a credit (their receivable owes them the amount). Ops either
paid it another way (a check or a bank transfer: Dr client_receivable, Cr bank) or keep it as
the client's credit, which settles their next balance (nothing booked). No automatic retry to
the card: Stripe gives a failed refund's money back because the card would not take it (closed
or expired), so the same refund to the same card fails again; Stripe's advice is another
method.

A capture not booked is either the charge's after all (ops book it with Stripe's figures:
card_captured under the charge's own key, so it can never be booked twice, and only while
the charge has none) or dismissed with a note (ops refunded the extra intent at Stripe).
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payments import (
    FailedRefundOut,
    FailedRefundResolutionIn,
    PaymentExceptionOut,
    PaymentExceptionResolutionIn,
    QueueState,
)
from services.core import audit, clock
from services.core.auth import Actor
from services.core.errors import Conflict
from services.core.pagination import Page
from services.ledger.service import post_entry
from services.payments import charges
from services.payments import queries as q
from services.payments.errors import FailedRefundNotFound, PaymentExceptionNotFound
from services.payments.gateway import Captured
from services.payments.problems import EXCEPTION, FAILED_REFUND, already_resolved, audited_page
from services.payments.queries import disputes as dq
from services.remittance import service as remittance


async def list_failed_refunds(
    conn: asyncpg.Connection, actor: Actor, state: QueueState, cursor: str | None, limit: int
) -> Page[FailedRefundOut]:
    """Failed refunds, oldest first: open (the queue) or resolved."""
    return await audited_page(
        conn, actor, FAILED_REFUND,
        lambda after, n: dq.list_failed_refunds(conn, state, after, n), cursor, limit,
    )  # fmt: skip


async def resolve_failed_refund(
    conn: asyncpg.Connection, actor: Actor, failed_id: uuid.UUID, data: FailedRefundResolutionIn
) -> FailedRefundOut:
    """Refunded another way (booked against the bank) or kept as the client's credit, once."""
    failed = await dq.lock_failed_refund(conn, failed_id)
    if failed is None:
        raise FailedRefundNotFound("failed refund not found", field="failed_refund_id")
    if already_resolved(failed.resolution, data.action):
        return failed
    now = clock.now()
    if data.action == "refunded_elsewhere":
        receivable = AccountRef(kind="client_receivable", owner_id=failed.client_id)
        await post_entry(conn, EntryIn(
            kind="refund", idempotency_key=f"refund_elsewhere-{failed.id}",
            source_table="failed_refunds", source_id=failed.id,
            lines=(Line(account=receivable, side="debit", amount_cents=failed.amount_cents),
                   Line(account=AccountRef(kind="bank"), side="credit",
                        amount_cents=failed.amount_cents)),
            memo="refund paid outside Stripe", occurred_at=now,
        ))  # fmt: skip
        # The client has the refund now: its true-up is refunded, unless the refund was only
        # part of it (the rest beyond the charge stays their credit).
        if -(await dq.get_true_up_cents(conn, failed.true_up_id) or 0) == failed.amount_cents:
            await remittance.settle_true_up_as(conn, failed.true_up_id, "refunded")
    await dq.update_failed_refund_resolved(conn, failed.id, data.action, data.note, actor.user,
                                           now)  # fmt: skip
    await audit.record(conn, actor, "update", FAILED_REFUND, [failed.id])
    resolved = await dq.lock_failed_refund(conn, failed.id)
    assert resolved is not None
    return resolved


async def list_exceptions(
    conn: asyncpg.Connection, actor: Actor, state: QueueState, cursor: str | None, limit: int
) -> Page[PaymentExceptionOut]:
    """Captures not booked, oldest first: open (the queue) or resolved."""
    return await audited_page(
        conn, actor, EXCEPTION, lambda after, n: dq.list_exceptions(conn, state, after, n),
        cursor, limit,
    )  # fmt: skip


async def resolve_exception(
    conn: asyncpg.Connection, actor: Actor, exception_id: uuid.UUID,
    data: PaymentExceptionResolutionIn,
) -> PaymentExceptionOut:  # fmt: skip
    """Booked as the charge's capture (Stripe's figures) or dismissed, once."""
    found = await dq.lock_exception(conn, exception_id)
    if found is None:
        raise PaymentExceptionNotFound("payment exception not found", field="exception_id")
    if already_resolved(found.resolution, data.action):
        return found
    if data.action == "book":
        charge = await q.lock_charge(conn, found.charge_id)
        assert charge is not None
        if charge.status == "succeeded":
            raise Conflict("the charge has its capture booked: refund this one at Stripe and "
                           "dismiss it", field="action")  # fmt: skip
        if found.net_cents + found.fee_cents != found.captured_cents or found.net_cents < 0:
            raise Conflict("Stripe's figures do not add up: dismiss it and fix it at Stripe",
                           field="action")  # fmt: skip
        captured = Captured(found.stripe_charge_id, found.fee_cents, found.net_cents)
        await charges.book_capture(conn, actor, charge, found.payment_intent_id, captured,
                                   found.captured_cents)  # fmt: skip
    now = clock.now()
    await dq.update_exception_resolved(conn, found.id, data.action, data.note, actor.user, now)
    await audit.record(conn, actor, "update", EXCEPTION, [found.id])
    resolved = await dq.lock_exception(conn, found.id)
    assert resolved is not None
    return resolved
