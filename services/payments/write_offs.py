"""A charge that did not go through: its follow-up queued, its write-off and reinstatement.

charges.py calls `follow_up` in the transaction that records a failure (the follow-up job in
recovery.py classifies the decline, schedules retries or the write-off, and mails the client)
and `on_paid` in the one that records a capture. Kept apart from recovery.py, which imports
charges.py, so the two never import each other.

The write-off (DESIGN.md "Money": retries exhausted) is Dr bad_debt, Cr client_receivable for
what the charge still leaves due (its amount less the true-up refunds and the credit applied to
it), once. If
the client pays afterwards, the write-off is reinstated first (Dr client_receivable, Cr
bad_debt: the receivable back, the expense reduced), and the capture's own card_captured entry
then settles that receivable as for any charge: a recovery is never revenue.
"""

from __future__ import annotations

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payments import ChargeRow, FollowUpChargeJob
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.ledger.service import post_entry
from services.payments import queries as q
from services.payments import statements
from services.payments.queries import recovery as rq

ENTITY = "charge_recovery"


async def follow_up(conn: asyncpg.Connection, charge: ChargeRow) -> None:
    """The follow-up of a charge that just failed or became a balance due, queued in the
    caller's transaction."""
    await outbox.add(conn, FollowUpChargeJob(charge_id=charge.id),
                     dedupe_key=f"follow-up-{charge.id}")  # fmt: skip


def _entry(charge: ChargeRow, cents: int, reinstate: bool) -> EntryIn:
    receivable = AccountRef(kind="client_receivable", owner_id=charge.client_id)
    bad_debt = AccountRef(kind="bad_debt")
    debit, credit = (receivable, bad_debt) if reinstate else (bad_debt, receivable)
    name = "bad_debt_reinstated" if reinstate else "bad_debt"
    return EntryIn(
        kind="bad_debt",
        idempotency_key=f"{name}-{charge.id}",
        source_table="client_charges",
        source_id=charge.id,
        lines=(
            Line(account=debit, side="debit", amount_cents=cents),
            Line(account=credit, side="credit", amount_cents=cents),
        ),
        memo="paid after it was written off" if reinstate else "unpaid charge written off",
        occurred_at=clock.now(),
    )


async def credit_covering(conn: asyncpg.Connection, charge: ChargeRow) -> int:
    """How much of the charge's balance due the client's credit settles (DESIGN.md "Balance
    due"): the ledger's receivable holds both, so what the client owes now (statements.owed_now,
    the charge's due included) short of that due is the credit left to apply. The client's
    Stripe customer row is locked first (when they have one), so two of their charges never
    spend one credit. Nothing for a charge written off: its debt left the receivable for
    bad_debt, and a credit there is the client's own (paying it reinstates the write-off)."""
    if await q.get_customer(conn, charge.client_id) is not None:
        await q.lock_customer(conn, charge.client_id)
    recovery = await rq.lock_recovery(conn, charge.id)
    if recovery is not None and recovery.written_off_at is not None:
        return 0
    due = await left_due(conn, charge)
    owed = await statements.owed_now(conn, charge.client_id)
    if charge.status in ("pending", "submitting"):
        owed += due  # owed_now leaves out what a charge is taking: this one's due is owed too
    return min(max(due - max(owed, 0), 0), max(due, 0))


async def left_due(conn: asyncpg.Connection, charge: ChargeRow) -> int:
    """The charge's amount less the true-up refunds and the credit applied to it."""
    applied = await q.sum_refunds_of_charge(conn, charge.id, ("applied",))
    return charge.amount_cents - applied - charge.credit_applied_cents


async def write_off(conn: asyncpg.Connection, charge: ChargeRow) -> str:
    """The charge's balance due written off once (the charge and recovery rows locked), less
    what the client's credit settles of it first."""
    recovery = await rq.lock_recovery(conn, charge.id)
    if recovery is None or recovery.written_off_at is not None:
        return "written off before" if recovery else "no recovery"
    if (covered := await credit_covering(conn, charge)) > 0:
        await rq.update_credit_applied(conn, charge.id, covered, clock.now())
    due = await left_due(conn, charge) - covered
    if due <= 0:
        await rq.update_recovery_status(conn, charge.id, "paid", clock.now())
        return "nothing due"
    await post_entry(conn, _entry(charge, due, reinstate=False))
    await rq.update_written_off(conn, charge.id, due, clock.now())
    await audit.record(conn, SYSTEM, "update", ENTITY, [charge.id])
    return "written off"


async def on_paid(conn: asyncpg.Connection, charge: ChargeRow) -> None:
    """A captured charge's recovery closed; a write-off reinstated first, once."""
    recovery = await rq.lock_recovery(conn, charge.id)
    if recovery is None:
        return
    if recovery.written_off_cents is not None:
        await post_entry(conn, _entry(charge, recovery.written_off_cents, reinstate=True))
    await rq.update_recovery_status(conn, charge.id, "paid", clock.now())
    await audit.record(conn, SYSTEM, "update", ENTITY, [charge.id])
