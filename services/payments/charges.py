"""Charging a client's card on file: the pending charge a completion writes, and the
charge_client job (DESIGN.md "Stripe calls, exactly once", "Money": card captured).

The job claims the row (pending -> submitting, attempt n, a lease) in one short transaction,
calls Stripe with nothing held (Idempotency-Key charge-{id}-a{n}, Hearth's ids in the intent's
metadata), stores the intent's id as soon as it is known, and records the outcome in a second
transaction under the row's lock. n rises only after Stripe answered with an error (the same
key would replay it). A run that finds the row submitting after its lease ended does not know
whether the last call charged: it looks the intent up first (by id, else among the customer's
intents by metadata, never the Search API), and charges only when none exists.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payments import STRIPE_MINIMUM_CENTS, ChargeClientJob, ChargeKind, ChargeRow
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM, Actor
from services.core.leased import run_leased as run_leased  # refunds and retries use it too
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payments import problems, write_offs
from services.payments import queries as q
from services.payments.gateway import (
    Captured,
    Declined,
    Intent,
    StripeFailed,
    StripeGateway,
    StripeUnknown,
)
from services.payments.lost_customers import customer_lost, forget_customer
from services.payments.queries import recovery as rq
from services.remittance import service as remittance

log = logging.getLogger(__name__)


ENTITY = "client_charge"
# Longer than the job's arq timeout (60 s, workers/settings.py): a run is cancelled before
# its lease ends, so no second run calls Stripe while the first may still be calling.
LEASE = timedelta(seconds=120)
RETRY_UNKNOWN = timedelta(seconds=5)
RETRY_ERROR = timedelta(seconds=30)
FINAL = ("succeeded", "failed", "balance_due")


async def add_charge(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    kind: ChargeKind,
    source: tuple[str, uuid.UUID],
    amount_cents: int,
    available_at: datetime | None = None,
) -> uuid.UUID | None:
    """A charge of the frozen amount and its charge_client outbox row (run from
    `available_at`, default now), in the caller's transaction; nothing for $0; under Stripe's
    minimum it stays a balance due. Once per (kind, source): a repeat writes nothing and
    returns None."""
    if amount_cents <= 0:
        return None
    small = amount_cents < STRIPE_MINIMUM_CENTS
    charge_id = await q.insert_charge(
        conn, client_id, kind, source, amount_cents,
        "balance_due" if small else "pending", "below_stripe_minimum" if small else None,
        clock.now(),
    )  # fmt: skip
    if charge_id is None:
        return None
    if not small:
        await outbox.add(
            conn, ChargeClientJob(charge_id=charge_id), dedupe_key=f"charge-{charge_id}",
            available_at=available_at,
        )  # fmt: skip
    await audit.record(conn, SYSTEM, "create", ENTITY, [charge_id])
    return charge_id


async def add_unpayable(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    kind: ChargeKind,
    source: tuple[str, uuid.UUID],
    amount_cents: int,
) -> uuid.UUID | None:
    """A charge with no card on file to take it: written a balance due at once (the client
    pays it on-session, or it is charged when they save a card: pay.charge_again), its
    follow-up queued as for any charge that did not go through. Once per (kind, source)."""
    now = clock.now()
    charge_id = await q.insert_charge(conn, client_id, kind, source, amount_cents,
                                      "balance_due", "no_card_on_file", now)  # fmt: skip
    if charge_id is None:
        return None
    await q.update_failed(conn, charge_id, "balance_due", None, ("no_card_on_file", None), now)
    charge = await q.lock_charge(conn, charge_id)
    assert charge is not None
    await write_offs.follow_up(conn, charge)
    await audit.record(conn, SYSTEM, "create", ENTITY, [charge_id])
    return charge_id


def to_card(charge: ChargeRow) -> int:
    """What the charge takes from a card: its amount less the credit applied before it was
    first sent (a credit applied once an intent exists closes the charge: `apply_credit`)."""
    return charge.amount_cents - charge.credit_applied_cents


def never_sent(charge: ChargeRow) -> bool:
    """No call for the charge was ever made: no key froze its amount yet."""
    return charge.attempt == 0 and charge.payment_intent_id is None


async def apply_credit(conn: asyncpg.Connection, charge: ChargeRow) -> ChargeRow | None:
    """The client's credit first settles the charge (DESIGN.md "Balance due"; nothing booked:
    credit and debt are one receivable), the row locked by the caller; None when there is no
    credit to apply. A charge never sent takes the rest to the card itself (settled whole: it
    succeeds with no card charged). A charge sent before keeps its intent's frozen amount under
    its keys: it is closed (its recovery `paid`) and the rest is a `balance` charge of its own,
    charged off-session by the charge_client job. The charge as it is now."""
    covered = await write_offs.credit_covering(conn, charge)
    if covered <= 0:
        return None
    now = clock.now()
    rest = await write_offs.left_due(conn, charge) - covered
    await rq.update_credit_applied(conn, charge.id, covered, now)
    await audit.record(conn, SYSTEM, "update", ENTITY, [charge.id])
    if never_sent(charge):
        if rest <= 0:
            await rq.update_settled_by_credit(conn, charge.id, now)
            await write_offs.on_paid(conn, charge)
            await _true_up_outcome(conn, charge, "charged")
    else:
        await rq.update_recovery_status(conn, charge.id, "paid", now)
        if rest > 0:
            source = ("client_charges", charge.id)
            await add_charge(conn, charge.client_id, "balance", source, rest)
    settled = await q.lock_charge(conn, charge.id)
    assert settled is not None
    return settled


@dataclass(frozen=True)
class Plan:
    """A claimed charge: what the call outside any transaction needs."""

    charge: ChargeRow
    customer: str
    method: str
    attempt: int
    look_first: bool  # an earlier call may have made an intent: look it up before any call


@dataclass(frozen=True)
class Outcome:
    kind: str  # succeeded | declined | unknown | error | refused
    intent: Intent | None = None
    captured: Captured | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    intent_id: str | None = None
    customer_lost: bool = False


async def _true_up_outcome(
    conn: asyncpg.Connection, charge: ChargeRow, status: Literal["charged", "balance_due"]
) -> None:
    """A true_up charge's outcome moved to its true-up (remittance owns client_true_ups)."""
    if charge.kind == "true_up":
        await remittance.settle_true_up_as(conn, charge.source_id, status)


def _captured_lines(charge: ChargeRow, captured: Captured, amount: int) -> tuple[Line, ...]:
    lines = [
        Line(account=AccountRef(kind="stripe_balance"), side="debit",
             amount_cents=captured.net_cents),
        Line(account=AccountRef(kind="processing_fees"), side="debit",
             amount_cents=captured.fee_cents),
        Line(account=AccountRef(kind="client_receivable", owner_id=charge.client_id),
             side="credit", amount_cents=amount),
    ]  # fmt: skip
    return tuple(line for line in lines if line.amount_cents > 0)


async def record_success(
    conn: asyncpg.Connection, charge: ChargeRow, intent: Intent, captured: Captured
) -> str:
    """The charge captured and its entry (Dr stripe_balance net, Dr processing_fees, Cr
    client_receivable), once; the row is locked by the caller."""
    if charge.payment_intent_id not in (None, intent.id):
        # Two intents for one charge would be a double charge: never book the second; ops
        # decide (payment_exceptions).
        log.error("second intent for a charge", extra={"count": 1, "outcome": intent.id})
        await problems.queue_exception(conn, charge, intent, captured, "second_intent")
        return "another intent"
    if intent.amount != to_card(charge) or captured.net_cents + captured.fee_cents != intent.amount:
        log.error("captured amount differs", extra={"outcome": intent.id})
        await problems.queue_exception(conn, charge, intent, captured, "amount_differs")
        return "amount differs"
    await book_capture(conn, SYSTEM, charge, intent.id, captured, intent.amount)
    return "succeeded"


async def book_capture(
    conn: asyncpg.Connection, actor: Actor, charge: ChargeRow, intent_id: str,
    captured: Captured, amount: int,
) -> None:  # fmt: skip
    """The charge succeeded with this intent's capture of `amount` and its entry, once (also
    what ops book from the exceptions queue); the row is locked by the caller."""
    now = clock.now()
    card = captured.card
    paid_with = (card.method_id, card.brand, card.last4) if card else (None, None, None)
    await q.update_succeeded(conn, charge.id, intent_id, captured.charge_id, captured.fee_cents,
                             paid_with, now)  # fmt: skip
    await post_entry(
        conn,
        EntryIn(
            kind="card_captured",
            idempotency_key=f"card_captured-{charge.id}",
            source_table="client_charges",
            source_id=charge.id,
            lines=_captured_lines(charge, captured, amount),
            memo=f"card captured ({charge.kind})",
            occurred_at=now,
        ),
    )
    await audit.record(conn, actor, "update", ENTITY, [charge.id])
    await write_offs.on_paid(conn, charge)
    await _true_up_outcome(conn, charge, "charged")


async def record_failure(
    conn: asyncpg.Connection,
    charge: ChargeRow,
    intent_id: str | None,
    codes: tuple[str, str | None],
) -> str:
    """Stripe refused the charge (402): a balance due, the decline code kept."""
    await q.update_failed(conn, charge.id, "failed", intent_id, codes, clock.now())
    await audit.record(conn, SYSTEM, "update", ENTITY, [charge.id])
    await write_offs.follow_up(conn, charge)
    await _true_up_outcome(conn, charge, "balance_due")
    return "failed"


async def not_to_call(
    conn: asyncpg.Connection, outbox_id: int, state: tuple[str, datetime | None] | None,
    final: tuple[str, ...], what: str,
) -> str | None:  # fmt: skip
    """Why a locked row (its status and lease) needs no call now, its outbox row completed or
    put back; None: claim it. Another run's live lease brings the row back once it ends."""
    now = clock.now()
    if state is None or state[0] in final:
        await outbox.complete(conn, outbox_id)
        return "done before" if state else f"no {what}"
    status, lease = state
    if status == "submitting" and lease is not None and lease > now:
        await outbox.record_failure(conn, outbox_id, "leased", lease - now)
        return "leased"
    return None


async def _claim(conn: asyncpg.Connection, outbox_id: int, charge_id: uuid.UUID) -> Plan | str:
    """The charge claimed for this run, or why there is nothing to call Stripe for."""
    charge = await q.lock_charge(conn, charge_id)
    now = clock.now()
    state = None if charge is None else (charge.status, charge.lease_until)
    if (busy := await not_to_call(conn, outbox_id, state, FINAL, "charge")) is not None:
        return busy
    assert charge is not None
    if never_sent(charge) and (credited := await apply_credit(conn, charge)) is not None:
        charge = credited
        if charge.status == "succeeded":
            await outbox.complete(conn, outbox_id)
            return "settled by credit"
        if to_card(charge) < STRIPE_MINIMUM_CENTS:
            codes = ("below_stripe_minimum", None)
            await q.update_failed(conn, charge.id, "balance_due", None, codes, now)
            await write_offs.follow_up(conn, charge)
            await _true_up_outcome(conn, charge, "balance_due")
            await outbox.complete(conn, outbox_id)
            return "balance_due"
    customer = await q.get_customer(conn, charge.client_id)
    method = await q.get_default_method(conn, charge.client_id)
    unknown = charge.status == "submitting"
    if not unknown and (customer is None or method is None):
        await q.update_failed(conn, charge.id, "balance_due", None, ("no_card_on_file", None), now)
        await audit.record(conn, SYSTEM, "update", ENTITY, [charge.id])
        await write_offs.follow_up(conn, charge)
        await _true_up_outcome(conn, charge, "balance_due")
        await outbox.complete(conn, outbox_id)
        return "balance_due"
    assert customer is not None
    # The same card as the call whose outcome is unknown (the key's parameters never change).
    method = charge.payment_method_id if unknown and charge.payment_method_id else method
    assert method is not None
    attempt = charge.attempt if unknown else charge.attempt + 1
    await q.update_claimed(conn, charge.id, attempt, now + LEASE, method, now)
    # Any earlier attempt may have made an intent (a 5xx does not say it did not): look first.
    return Plan(charge, customer, method, attempt, look_first=charge.attempt > 0)


async def _settle(gateway: StripeGateway, intent: Intent) -> Outcome:
    """What an intent Stripe knows says: captured (with its fee), declined, or still unknown."""
    if intent.status == "succeeded" and intent.charge_id is not None:
        return Outcome("succeeded", intent, await gateway.captured(intent.charge_id))
    if intent.status in ("requires_payment_method", "canceled"):
        code = intent.failure_code or "card_declined"
        return Outcome("declined", intent, None, code, intent.decline_code, intent.id)
    return Outcome("unknown", intent)


# How far before our charge row the lookup reads the customer's intents: `created` is Stripe's
# clock and created_at ours, so a wide margin (a customer has few intents a week) keeps a skew
# between the two clocks from hiding the intent an earlier attempt made.
LOOKBACK_S = 7 * 24 * 3600


async def _look_up(gateway: StripeGateway, plan: Plan) -> Outcome | None:
    """The intent an earlier call made, if any; an error here leaves the outcome unknown."""
    charge = plan.charge
    try:
        found = (
            await gateway.get_intent(charge.payment_intent_id)
            if charge.payment_intent_id
            else await gateway.find_intent(
                plan.customer, charge.id, int(charge.created_at.timestamp()) - LOOKBACK_S
            )
        )
        return None if found is None else await _settle(gateway, found)
    except (StripeUnknown, StripeFailed):
        return Outcome("unknown")


def intent_metadata(charge: ChargeRow) -> dict[str, str]:
    """Hearth's ids on the charge's PaymentIntent (a lookup matches hearth_charge_id)."""
    return {
        "hearth_charge_id": str(charge.id),
        "hearth_client_id": str(charge.client_id),
        "hearth_kind": charge.kind,
        "hearth_source_id": str(charge.source_id),
    }


async def _call(tx: Transactions, gateway: StripeGateway, plan: Plan) -> Outcome:
    charge = plan.charge
    if plan.look_first and (earlier := await _look_up(gateway, plan)) is not None:
        return earlier
    try:
        intent = await gateway.charge_off_session(
            key=f"charge-{charge.id}-a{plan.attempt}", customer=plan.customer,
            method=plan.method, amount=to_card(charge), metadata=intent_metadata(charge),
        )  # fmt: skip
    except Declined as exc:
        return Outcome("declined", None, None, exc.failure_code, exc.decline_code, exc.intent_id)
    except StripeUnknown:
        return Outcome("unknown")
    except StripeFailed as exc:
        return Outcome("error" if exc.transient else "refused", failure_code=exc.code[:100],
                       customer_lost=customer_lost(exc))  # fmt: skip
    async with tx() as conn:  # the intent's id at once, before anything else can fail
        await q.update_intent(conn, charge.id, intent.id, clock.now())
    try:
        return await _settle(gateway, intent)
    except (StripeUnknown, StripeFailed):
        return Outcome("unknown", intent)


async def _record(conn: asyncpg.Connection, outbox_id: int, plan: Plan, out: Outcome) -> str:
    charge = await q.lock_charge(conn, plan.charge.id)
    assert charge is not None
    if charge.status != "submitting" or charge.attempt != plan.attempt:
        # A webhook recorded the outcome meanwhile, or a later run took over after our lease.
        if charge.status in FINAL:
            await outbox.complete(conn, outbox_id)
        return "recorded elsewhere"
    now = clock.now()
    if out.kind == "succeeded" and out.intent and out.captured:
        result = await record_success(conn, charge, out.intent, out.captured)
    elif out.kind == "declined":
        codes = (out.failure_code or "card_declined", out.decline_code)
        result = await record_failure(conn, charge, out.intent_id, codes)
    elif out.kind == "refused":
        if out.customer_lost:
            await forget_customer(conn, charge.client_id, plan.customer)
        result = await record_failure(conn, charge, None, (out.failure_code or "refused", None))
    elif out.kind == "error":
        # Stripe answered an error: the key would replay it, so the next run takes key n+1.
        await q.update_lease(conn, charge.id, "pending", None, out.failure_code, now)
        await outbox.record_failure(
            conn, outbox_id, f"stripe error {out.failure_code}", RETRY_ERROR
        )
        return "retry"
    else:
        # Unknown: the lease given up, the next run looks the intent up before any new call.
        await q.update_lease(conn, charge.id, "submitting", now, charge.failure_code, now)
        await outbox.record_failure(conn, outbox_id, "stripe outcome unknown", RETRY_UNKNOWN)
        return "unknown"
    await outbox.complete(conn, outbox_id)
    return result


async def charge_client(tx: Transactions, gateway: StripeGateway, outbox_id: int) -> str:
    """The charge_client job's body: claim, call Stripe with nothing held, record."""
    return await run_leased(
        tx, outbox_id, ChargeClientJob,
        lambda conn, job: _claim(conn, outbox_id, job.charge_id),
        lambda plan: _call(tx, gateway, plan),
        lambda conn, plan, out: _record(conn, outbox_id, plan, out),
    )  # fmt: skip
