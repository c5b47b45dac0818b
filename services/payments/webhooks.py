"""Stripe's webhooks (DESIGN.md "Stripe webhooks"): the receiver and the handling job.

The receiver checks `Stripe-Signature` (t, v1 = HMAC-SHA256 of "{t}.{raw body}" with the
endpoint's secret, t within 300 s of our clock), stores the event's id once with an outbox row
and answers at once; a bad or stale signature is refused with nothing written. Two Stripe
endpoints deliver here, each signing with its own secret: the account endpoint (the platform's
own events) and the Connect endpoint (events of connected accounts, `account` set: a
provider's account.updated goes only there); a signature by either is accepted, and event ids
are Stripe's across both, so the one store deduplicates them alike. The job re-reads
the object from Stripe (deliveries repeat for days, in any order: the event's copy may be old),
with nothing held, and applies what Stripe says now under the rows' locks, so a replay or an
event out of order changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import msgspec

from schemas.payments import HandleStripeEventJob, StripeEventIn
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.core.transactions import Transactions
from services.payments import charges, disputes, pay, true_ups
from services.payments import queries as q
from services.payments.errors import BadSignature
from services.payments.gateway import (
    Captured,
    Card,
    Disputed,
    Intent,
    Refunded,
    SetupIntent,
    StripeFailed,
    StripeGateway,
    StripeUnknown,
)
from services.payouts import service as payouts

log = logging.getLogger(__name__)

TOLERANCE_S = 300
# Their object is the refund: re-read and reconciled as charge.refund.updated is.
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed")
DISPUTE_EVENTS = (
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated", "charge.dispute.closed",
)  # fmt: skip
HANDLED = (
    "setup_intent.succeeded",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.refund.updated",
    *REFUND_EVENTS,
    *DISPUTE_EVENTS,
)
# Events another domain applies: it re-reads the object with nothing held and applies it under
# its rows' locks, answering the outcome, or None when Stripe did not answer (retried later).
Delegate = Callable[[Transactions, StripeGateway, str, str], Awaitable[str | None]]
DELEGATES: dict[str, Delegate] = {}
DELEGATES.update(dict.fromkeys(payouts.STRIPE_EVENTS, payouts.apply_stripe_event))


def verify(body: bytes, header: str | None, *secrets: str) -> None:
    """The signature Stripe put on this delivery with one of our endpoints' secrets, made
    within the tolerance, or BadSignature. The header may carry several v1 signatures (while
    Stripe rolls a secret, old and new): one matching any secret is enough."""
    if not header:
        raise BadSignature("the Stripe-Signature header is missing", field="Stripe-Signature")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise BadSignature("the Stripe-Signature header is malformed", field="Stripe-Signature")
    stamp = stamps[0].strip()
    signed = f"{stamp}.".encode() + body
    expected = [hmac.new(k.encode(), signed, hashlib.sha256).hexdigest() for k in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise BadSignature("the signature does not match the body", field="Stripe-Signature")
    if abs(clock.now().timestamp() - int(stamp)) > TOLERANCE_S:
        raise BadSignature("the signature is too old or too new", field="Stripe-Signature")


async def receive(
    conn: asyncpg.Connection, body: bytes, header: str | None, *secrets: str
) -> tuple[bool, str]:
    """(stored now, event id): the event, signed with one of `secrets`, stored once with its
    outbox row."""
    verify(body, header, *secrets)
    try:
        event = msgspec.json.decode(body, type=StripeEventIn)
    except msgspec.ValidationError as exc:
        raise BadSignature(f"the event is not one Stripe sends: {exc}", field="body") from exc
    if not (0 < len(event.id) <= 255 and 0 < len(event.type) <= 100):
        raise BadSignature("the event's id or type is out of range", field="body")
    object_id = event.data.object.id
    stored = await q.insert_event(conn, event.id, event.type, (object_id or "")[:255] or None,
                                  clock.now())  # fmt: skip
    if stored:
        await outbox.add(conn, HandleStripeEventJob(event_id=event.id))
    return stored, event.id


@dataclass(frozen=True)
class Fetched:
    """An event's object as Stripe has it now, with the card or the capture's fee it needs."""

    setup: SetupIntent | None = None
    card: Card | None = None
    intent: Intent | None = None
    captured: Captured | None = None
    refunds: tuple[Refunded, ...] = ()
    dispute: Disputed | None = None


async def _fetch(gateway: StripeGateway, kind: str, object_id: str) -> Fetched:
    if kind == "setup_intent.succeeded":
        setup = await gateway.get_setup_intent(object_id)
        card = await gateway.get_card(setup.payment_method) if setup.payment_method else None
        return Fetched(setup=setup, card=card)
    if kind == "charge.refunded":  # the object is the charge
        return Fetched(refunds=tuple(await gateway.refunds_of_charge(object_id)))
    if kind == "charge.refund.updated" or kind in REFUND_EVENTS:  # the object is the refund
        return Fetched(refunds=(await gateway.get_refund(object_id),))
    if kind in DISPUTE_EVENTS:  # the disputed intent's metadata names our charge
        dispute = await gateway.get_dispute(object_id)
        intent_id = dispute.payment_intent_id
        intent = await gateway.get_intent(intent_id) if intent_id else None
        return Fetched(dispute=dispute, intent=intent)
    intent = await gateway.get_intent(object_id)
    captured = None
    if intent.status == "succeeded" and intent.charge_id:
        captured = await gateway.captured(intent.charge_id)
    return Fetched(intent=intent, captured=captured)


async def _saved_card(conn: asyncpg.Connection, setup: SetupIntent, card: Card | None) -> str:
    if setup.status != "succeeded" or card is None or setup.customer is None:
        return f"setup {setup.status}"
    client_id = await q.get_client_of_customer(conn, setup.customer)
    if client_id is None or card.customer != setup.customer:
        return "not our customer"
    now = clock.now()
    saved_at = datetime.fromtimestamp(setup.created, UTC)
    fields = (card.id, card.brand[:50], card.last4, card.exp_month, card.exp_year)
    await q.insert_method(conn, client_id, setup.id, fields, saved_at, now)
    await q.update_default_method(conn, client_id)
    setup_id = await q.update_setup_succeeded(conn, setup.id, now)
    if setup_id is not None:
        await audit.record(conn, SYSTEM, "update", "payment_setup", [setup_id])
    await pay.charge_again(conn, client_id)  # the no-card balances due, now chargeable
    return "card saved"


async def _reconciled(conn: asyncpg.Connection, intent: Intent, captured: Captured | None) -> str:
    """A charge's outcome the job may not have recorded (it crashed, or timed out)."""
    if intent.hearth_charge_id is None:
        return "not our intent"
    try:
        charge_id = uuid.UUID(intent.hearth_charge_id)
    except ValueError:
        return "not our intent"
    charge = await q.lock_charge(conn, charge_id)
    if charge is None:
        return "not our intent"
    if intent.status == "succeeded" and captured is not None:
        if charge.status == "succeeded" and charge.payment_intent_id == intent.id:
            return "already recorded"  # another intent is a double charge: record_success queues it
        return await charges.record_success(conn, charge, intent, captured)
    if intent.status == "requires_payment_method" and charge.status in ("pending", "submitting"):
        codes = (intent.failure_code or "card_declined", intent.decline_code)
        return await charges.record_failure(conn, charge, intent.id, codes)
    return "nothing to change"


async def handle_stripe_event(tx: Transactions, gateway: StripeGateway, outbox_id: int) -> str:
    """The handle_stripe_event job's body: read the event, re-read its object, apply it."""
    async with tx() as conn:
        job = await outbox.lock(conn, outbox_id, HandleStripeEventJob)
        if job is None:
            return "done before"
        stored = await q.get_event(conn, job.event_id)
        if stored is None or stored[0] not in (*HANDLED, *DELEGATES) or stored[1] is None:
            await q.update_event_handled(conn, job.event_id, "ignored", clock.now())
            await outbox.complete(conn, outbox_id)
            return "ignored"
    kind, object_id = stored[0], stored[1]
    if kind in DELEGATES:
        return await _delegated(tx, gateway, outbox_id, job.event_id, (kind, object_id))
    try:
        fetched = await _fetch(gateway, kind, object_id)
    except (StripeUnknown, StripeFailed) as exc:
        async with tx() as conn:
            await outbox.record_failure(conn, outbox_id, f"stripe: {exc}", charges.RETRY_ERROR)
        return "retry"
    async with tx() as conn:
        if await outbox.lock(conn, outbox_id, HandleStripeEventJob) is None:
            return "done before"
        if fetched.setup is not None:
            outcome = await _saved_card(conn, fetched.setup, fetched.card)
        elif fetched.dispute is not None:
            hearth_id = fetched.intent.hearth_charge_id if fetched.intent else None
            outcome = await disputes.apply_dispute(conn, fetched.dispute, hearth_id)
        elif kind.startswith("charge.refund") or kind in REFUND_EVENTS:
            outcomes = [await true_ups.reconcile_refund(conn, r) for r in fetched.refunds]
            outcome = ", ".join(outcomes) or "no refunds"
        else:
            assert fetched.intent is not None
            outcome = await _reconciled(conn, fetched.intent, fetched.captured)
        await q.update_event_handled(conn, job.event_id, outcome, clock.now())
        await outbox.complete(conn, outbox_id)
    log.info("stripe event handled", extra={"job": HandleStripeEventJob.job, "outcome": outcome})
    return outcome


async def _delegated(
    tx: Transactions, gateway: StripeGateway, outbox_id: int, event_id: str,
    event: tuple[str, str],
) -> str:  # fmt: skip
    """An event another domain applies (DELEGATES); the event marked handled after it."""
    outcome = await DELEGATES[event[0]](tx, gateway, *event)
    async with tx() as conn:
        if await outbox.lock(conn, outbox_id, HandleStripeEventJob) is None:
            return "done before"
        if outcome is None:
            await outbox.record_failure(conn, outbox_id, "stripe did not answer",
                                        charges.RETRY_ERROR)  # fmt: skip
            return "retry"
        await q.update_event_handled(conn, event_id, outcome[:200], clock.now())
        await outbox.complete(conn, outbox_id)
    log.info("stripe event handled", extra={"job": HandleStripeEventJob.job, "outcome": outcome})
    return outcome
