"""True-ups from remittance become a charge or a refund (issue 17 item 5; DESIGN.md "Charging
clients", "Stripe calls, exactly once", "Money": Refund).

The settle_true_up job reads a ready true-up through the remittance service (which owns
client_true_ups and changes its status only through `settle_true_up_as`):
- the client owes more: a `true_up` charge of the frozen amount, charged by the charge_client
  job (charges.py); under Stripe's 50¢ minimum, or with no card on file, the charge is written
  a balance due at once (every balance due is a charge the client can see and pay). The
  true-up goes `charged` when the charge succeeds (also later, paid on-session),
  `balance_due` when it fails.
- the client is owed money: a refund against the session's completion charge, never more than
  it has left unrefunded. When that charge succeeded, the refund_client job sends it to Stripe
  (`refund-{id}-a{n}`) and the true-up goes `refunded` (or `credit` for a remainder beyond the
  charge, or when the refund fails). When it never succeeded (a balance due), the refund row is
  written `applied`: it reduces that balance due (the charge's amount less its applied rows),
  with no Stripe call and no entry (the 835's posting already moved client_receivable). With no
  completion charge at all the true-up stays a `credit`.

The refund job claims the row (pending -> submitting, attempt n, a lease) in one transaction,
calls Stripe with nothing held, stores the refund's id, and records the outcome under the row's
lock with the entry Dr client_receivable, Cr stripe_balance (Stripe keeps its fee). A run that
finds the row submitting after its lease ended looks the refund up (by id, else among the
intent's refunds by metadata) before any new call; n rises only after Stripe answered an error.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line, Side
from schemas.payments import STRIPE_MINIMUM_CENTS, RefundClientJob, RefundRow
from schemas.true_ups import SettleTrueUpJob, TrueUpOut, TrueUpStatus
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payments import charges, problems, statement_emails, statements
from services.payments import queries as q
from services.payments.gateway import Refunded, StripeFailed, StripeGateway, StripeUnknown
from services.remittance import service as remittance

log = logging.getLogger(__name__)

ENTITY = "client_refund"
# Still to be decided (the completion charge is in flight): the settlement waits for it.
IN_FLIGHT = ("pending", "submitting")
REFUND_FINAL = ("succeeded", "failed", "applied")


async def _owed_more(conn: asyncpg.Connection, true_up: TrueUpOut, notice: timedelta) -> str:
    """A true_up charge queued to run after the notice period, or a balance due charge at once
    (no card on file, or under Stripe's minimum);
    either way the client's statement email is queued with it (statement_emails.py). A credit
    the client holds first settles it (DESIGN.md "Balance due"): only what the ledger says
    they owe, net of that credit, is charged; all of it covered, the true-up is closed."""
    if await q.list_charges_of_source(conn, true_up.id):
        return "charged before"  # a second settlement: the charge's outcome settles it
    amount = min(true_up.amount_cents, await statements.owed_now(conn, true_up.client_id))
    if amount <= 0:
        await remittance.settle_true_up_as(conn, true_up.id, "closed")
        return "settled by credit"
    source = ("client_true_ups", true_up.id)
    if amount >= STRIPE_MINIMUM_CENTS and await q.get_default_method(conn, true_up.client_id):
        charge_at = clock.now() + notice
        await charges.add_charge(conn, true_up.client_id, "true_up", source, amount, charge_at)
        await statement_emails.add_true_up_notice(conn, true_up, amount, charge_at)
        return "charging"
    # Every balance due is a charge the client sees and pays (POST /client-charges/{id}/payment);
    # one under Stripe's minimum is written a balance due too, payable only with a later one.
    if amount >= STRIPE_MINIMUM_CENTS:
        await charges.add_unpayable(conn, true_up.client_id, "true_up", source, amount)
    else:
        await charges.add_charge(conn, true_up.client_id, "true_up", source, amount)
    await remittance.settle_true_up_as(conn, true_up.id, "balance_due")
    await statement_emails.add_true_up_notice(conn, true_up, amount, None)
    return "balance_due"


async def _owed_back(conn: asyncpg.Connection, true_up: TrueUpOut) -> str | None:
    """A refund to the completion charge (or its balance due reduced); a final reversal (of a
    voided claim) refunds the true-up charge it takes back, when there is one. None: that
    charge is still in flight, settle later."""
    owed = -true_up.amount_cents
    charge = None
    if true_up.reverses_id is not None:
        charge = await q.lock_charge_of_true_up(conn, true_up.reverses_id)
    if charge is None:
        charge = await q.lock_completion_of_claim(conn, true_up.claim_id)
    if charge is None:
        await remittance.settle_true_up_as(conn, true_up.id, "credit")
        return "credit"
    if charge.status in IN_FLIGHT:
        return None
    now = clock.now()
    if charge.status == "succeeded":
        taken = await q.sum_refunds_of_charge(conn, charge.id, ("pending", "submitting",
                                                                 "succeeded"))  # fmt: skip
        amount = min(owed, charges.to_card(charge) - taken)  # what the card paid, at most
        if amount > 0:
            refund_id = await q.insert_refund(conn, charge, true_up.id, amount, "pending", now)
            if refund_id is not None:
                await outbox.add(
                    conn, RefundClientJob(refund_id=refund_id), dedupe_key=f"refund-{refund_id}"
                )
                await audit.record(conn, SYSTEM, "create", ENTITY, [refund_id])
                return "refunding"
    else:
        reduced = await q.sum_refunds_of_charge(conn, charge.id, ("applied",))
        amount = min(owed, charge.amount_cents - reduced - charge.credit_applied_cents)
        if amount > 0:
            refund_id = await q.insert_refund(conn, charge, true_up.id, amount, "applied", now)
            if refund_id is not None:
                await audit.record(conn, SYSTEM, "create", ENTITY, [refund_id])
                status: TrueUpStatus = "refunded" if amount == owed else "credit"
                await remittance.settle_true_up_as(conn, true_up.id, status)
                return f"balance reduced ({status})"
    await remittance.settle_true_up_as(conn, true_up.id, "credit")
    return "credit"


async def settle_true_up_on(
    conn: asyncpg.Connection, outbox_id: int, notice: timedelta = timedelta(0)
) -> str:
    """The settle_true_up job's body, in the caller's transaction: a ready true-up charged
    (after `notice`: settings.true_up_notice_days) or refunded (queued), or settled at once;
    its outbox row completed with it."""
    job = await outbox.lock(conn, outbox_id, SettleTrueUpJob)
    if job is None:
        return "done before"
    true_up = await remittance.lock_ready_true_up(conn, job.true_up_id)
    if true_up is None:
        await outbox.complete(conn, outbox_id)
        return "nothing to settle"
    if true_up.amount_cents > 0:
        outcome = await _owed_more(conn, true_up, notice)
    else:
        settled = await _owed_back(conn, true_up)
        if settled is None:
            await outbox.record_failure(
                conn, outbox_id, "completion charge in flight", charges.RETRY_ERROR
            )
            return "waiting for the completion charge"
        outcome = settled
    await outbox.complete(conn, outbox_id)
    return outcome


@dataclass(frozen=True)
class RefundPlan:
    refund: RefundRow
    intent: str
    attempt: int
    look_first: bool


async def _post_refund_entry(
    conn: asyncpg.Connection, refund: RefundRow, found: Refunded, failed: bool
) -> None:
    """The refund's row stamped with Stripe's outcome and its entry: Dr client_receivable, Cr
    stripe_balance (Stripe keeps its fee); a refund that failed after it succeeded, the reverse."""
    now = clock.now()
    code = "refund_" + found.status if failed else None
    await q.update_refund(conn, refund.id, "failed" if failed else "succeeded",
                          attempt=refund.attempt, lease=None, stripe_id=found.id,
                          failure_code=code, now=now)  # fmt: skip
    receivable = AccountRef(kind="client_receivable", owner_id=refund.client_id)
    sides: tuple[Side, Side] = ("credit", "debit") if failed else ("debit", "credit")
    await post_entry(
        conn,
        EntryIn(
            kind="refund_failed" if failed else "refund",
            idempotency_key=f"{'refund_failed' if failed else 'refund'}-{refund.id}",
            source_table="client_refunds", source_id=refund.id,
            lines=(
                Line(account=receivable, side=sides[0], amount_cents=refund.amount_cents),
                Line(account=AccountRef(kind="stripe_balance"), side=sides[1],
                     amount_cents=refund.amount_cents),
            ),
            memo="refund failed at the card" if failed else "true-up refunded to the card",
            occurred_at=now,
        ),
    )  # fmt: skip


async def record_refund(conn: asyncpg.Connection, refund: RefundRow, found: Refunded) -> str:
    """Stripe's outcome of a refund, once, under the row's lock: succeeded (the refund entry,
    the true-up refunded or credit for a remainder) or failed (the true-up stays a credit)."""
    if refund.status in REFUND_FINAL:
        return "already recorded"
    if refund.stripe_refund_id not in (None, found.id) or found.amount != refund.amount_cents:
        log.error("refund differs", extra={"outcome": found.id})
        return "refund differs"
    if found.status == "succeeded":
        await _post_refund_entry(conn, refund, found, failed=False)
        true_up = await remittance.lock_ready_true_up(conn, refund.true_up_id)
        whole = true_up is not None and -true_up.amount_cents == refund.amount_cents
        await remittance.settle_true_up_as(
            conn, refund.true_up_id, "refunded" if whole else "credit"
        )
        result = "refunded"
    elif found.status in ("failed", "canceled"):
        await q.update_refund(conn, refund.id, "failed", attempt=refund.attempt, lease=None,
                              stripe_id=found.id, failure_code="refund_" + found.status,
                              now=clock.now())  # fmt: skip
        await remittance.settle_true_up_as(conn, refund.true_up_id, "credit")
        await problems.queue_failed_refund(conn, refund, _reason(found))
        result = "refund failed"
    else:
        return f"refund {found.status}"
    await audit.record(conn, SYSTEM, "update", ENTITY, [refund.id])
    return result


def _reason(found: Refunded) -> str:
    """Why Stripe says the refund did not reach the card (its failure_reason), else its status."""
    return found.failure_reason or f"refund_{found.status}"


async def reconcile_refund(conn: asyncpg.Connection, found: Refunded) -> str:
    """A refund as Stripe has it now (charge.refunded, charge.refund.updated): an outcome the
    job did not record is recorded; a refund that failed after it succeeded is reversed (Dr
    stripe_balance, Cr client_receivable: the client is owed it again, and its true-up is a
    credit again)."""
    refund = await q.lock_refund_by_stripe_id(conn, found.id)
    if refund is None and found.hearth_refund_id is not None:
        try:
            refund = await q.lock_refund(conn, uuid.UUID(found.hearth_refund_id))
        except ValueError:
            refund = None
    if refund is None:
        return "not our refund"
    if refund.status in ("pending", "submitting"):
        return await record_refund(conn, refund, found)
    if refund.status == "succeeded" and found.status in ("failed", "canceled"):
        await _post_refund_entry(conn, refund, found, failed=True)
        # The true-up is no longer refunded: the client is owed its amount again.
        await remittance.settle_true_up_as(conn, refund.true_up_id, "credit")
        await audit.record(conn, SYSTEM, "update", ENTITY, [refund.id])
        await problems.queue_failed_refund(conn, refund, _reason(found))
        return "refund reversed"
    return "nothing to change"


async def _claim(
    conn: asyncpg.Connection, outbox_id: int, refund_id: uuid.UUID
) -> RefundPlan | str:
    refund = await q.lock_refund(conn, refund_id)
    now = clock.now()
    state = None if refund is None else (refund.status, refund.lease_until)
    if busy := await charges.not_to_call(conn, outbox_id, state, REFUND_FINAL, "refund"):
        return busy
    assert refund is not None
    intent = await q.get_intent_of_charge(conn, refund.charge_id)
    assert intent is not None, "a succeeded charge has its intent"
    unknown = refund.status == "submitting"
    attempt = refund.attempt if unknown else refund.attempt + 1
    await q.update_refund(conn, refund.id, "submitting", attempt=attempt, lease=now + charges.LEASE,
                          stripe_id=None, failure_code=None, now=now)  # fmt: skip
    return RefundPlan(refund, intent, attempt, look_first=refund.attempt > 0)


async def _call(tx: Transactions, gateway: StripeGateway, plan: RefundPlan) -> Refunded | str:
    """Stripe's refund, or why there is none: unknown, error (a new key next), refused."""
    refund = plan.refund
    try:
        if plan.look_first:
            found = (
                await gateway.get_refund(refund.stripe_refund_id)
                if refund.stripe_refund_id
                else await gateway.find_refund(plan.intent, refund.id)
            )
            if found is not None:
                return found
        made = await gateway.refund(
            key=f"refund-{refund.id}-a{plan.attempt}", intent=plan.intent,
            amount=refund.amount_cents,
            metadata={"hearth_refund_id": str(refund.id),
                      "hearth_true_up_id": str(refund.true_up_id)},
        )  # fmt: skip
    except StripeUnknown:
        return "unknown"
    except StripeFailed as exc:
        return "error" if exc.transient else f"refused {exc.code}"
    async with tx() as conn:  # the refund's id at once, before anything else can fail
        await q.update_refund(conn, refund.id, "submitting", attempt=plan.attempt,
                              lease=clock.now() + charges.LEASE, stripe_id=made.id,
                              failure_code=None, now=clock.now())  # fmt: skip
    return made


async def _record(
    conn: asyncpg.Connection, outbox_id: int, plan: RefundPlan, out: Refunded | str
) -> str:
    refund = await q.lock_refund(conn, plan.refund.id)
    assert refund is not None
    if refund.status != "submitting" or refund.attempt != plan.attempt:
        if refund.status in REFUND_FINAL:
            await outbox.complete(conn, outbox_id)
        return "recorded elsewhere"
    now = clock.now()
    if isinstance(out, Refunded) and out.status in ("succeeded", "failed", "canceled"):
        result = await record_refund(conn, refund, out)
    elif out == "error":
        await q.update_refund(conn, refund.id, "pending", attempt=refund.attempt, lease=None,
                              stripe_id=None, failure_code="stripe_error", now=now)  # fmt: skip
        await outbox.record_failure(conn, outbox_id, "stripe error", charges.RETRY_ERROR)
        return "retry"
    elif isinstance(out, str) and out.startswith("refused"):
        await q.update_refund(conn, refund.id, "failed", attempt=refund.attempt, lease=None,
                              stripe_id=None, failure_code=out[8:108] or "refused",
                              now=now)  # fmt: skip
        await remittance.settle_true_up_as(conn, refund.true_up_id, "credit")
        await audit.record(conn, SYSTEM, "update", ENTITY, [refund.id])
        await problems.queue_failed_refund(conn, refund, out[8:108] or "refused")
        result = "refund refused"
    else:
        # Unknown (no answer, or Stripe's refund still pending): the lease given up, the next
        # run (or the charge.refund.updated webhook) looks the refund up first.
        await q.update_refund(conn, refund.id, "submitting", attempt=refund.attempt, lease=now,
                              stripe_id=None, failure_code=None, now=now)  # fmt: skip
        await outbox.record_failure(conn, outbox_id, "stripe outcome unknown",
                                    charges.RETRY_UNKNOWN)  # fmt: skip
        return "unknown"
    await outbox.complete(conn, outbox_id)
    return result


async def refund_client(tx: Transactions, gateway: StripeGateway, outbox_id: int) -> str:
    """The refund_client job's body: claim, call Stripe with nothing held, record."""
    return await charges.run_leased(
        tx, outbox_id, RefundClientJob,
        lambda conn, job: _claim(conn, outbox_id, job.refund_id),
        lambda plan: _call(tx, gateway, plan),
        lambda conn, plan, out: _record(conn, outbox_id, plan, out),
    )  # fmt: skip
