"""The client pays a charge that did not go through, on-session (issue 17 item 4).

`POST /client-charges/{id}/payment` gives Stripe.js what it needs: the charge's own
PaymentIntent's client secret when one exists (a decline leaves it in requires_payment_method,
so the client confirms the SAME intent, with the saved card or another one, and any 3-D Secure
step the bank asks for), or a new unconfirmed intent for a balance due that never had one
(Idempotency-Key charge-{id}-a{n} as in charges.py, n the charge's next attempt, kept while the
outcome is unknown). With a saved card's id the server confirms it on-session itself
(Idempotency-Key pay-{charge}-{hash of the request's Idempotency-Key}).

The capture is recorded from payment_intent.succeeded (webhooks.py re-reads the intent and
calls charges.record_success under the charge's lock: once) and also by `GET .../payment`, which
re-reads the intent, so a lost webhook never leaves a paid charge unpaid. No transaction is held
across a Stripe call.

A client who saves a new card consented (the SetupIntent's text) to off-session charges of
their sessions' shares: their no-card balances due Stripe can charge are queued for the
charge_client job again (`charge_again`), as if the card had been there at completion.
"""

from __future__ import annotations

import hashlib
import uuid

import asyncpg

from schemas.payments import (
    STRIPE_MINIMUM_CENTS,
    ChargeClientJob,
    ChargePaymentOut,
    ChargeRow,
    PayChargeIn,
)
from services.clients import service as clients
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM, Actor
from services.core.errors import DomainError, Unprocessable
from services.core.transactions import Transactions
from services.payments import charges
from services.payments import queries as q
from services.payments.errors import (
    ChargeNotFound,
    ChargeNotPayable,
    StripeCustomerLost,
    StripeRefused,
    StripeUnavailable,
)
from services.payments.gateway import Declined, Intent, StripeFailed, StripeGateway, StripeUnknown
from services.payments.lost_customers import customer_lost, forget_customer
from services.payments.queries import recovery as rq

PAYABLE = ("requires_payment_method", "requires_confirmation")


async def _visible_charge(
    conn: asyncpg.Connection, actor: Actor, charge_id: uuid.UUID
) -> ChargeRow:
    """The charge, locked, or 404 when unknown or not the caller's client's."""
    charge = await q.lock_charge(conn, charge_id)
    if charge is None or not await clients.client_in_scope(conn, actor, charge.client_id):
        raise ChargeNotFound("charge not found", field="charge_id")
    return charge


def _check_payable(charge: ChargeRow) -> None:
    if charge.status == "succeeded":
        raise ChargeNotPayable("the charge is paid", field="charge_id")
    if charge.status in ("pending", "submitting"):
        raise ChargeNotPayable("the charge is being sent to the card: try again shortly",
                               field="charge_id")  # fmt: skip
    if charges.to_card(charge) < STRIPE_MINIMUM_CENTS:
        raise ChargeNotPayable("the balance is under Stripe's 50-cent minimum: it is carried "
                               "to your statement", field="charge_id")  # fmt: skip


def _out(charge: ChargeRow, status: str, intent: Intent | None, secret: str | None,
         decline: str | None = None) -> ChargePaymentOut:  # fmt: skip
    paid = intent is not None and intent.status == "succeeded"
    return ChargePaymentOut(
        charge_id=charge.id, amount_cents=charges.to_card(charge), currency="usd",
        charge_status=status,  # type: ignore[arg-type]
        payment_intent_id=intent.id if intent else charge.payment_intent_id,
        intent_status=intent.status if intent else None,
        client_secret=None if paid else secret,
        decline_code=decline or (intent.decline_code if intent and not paid else None),
    )  # fmt: skip


async def _record_if_paid(tx: Transactions, gateway: StripeGateway, charge_id: uuid.UUID,
                          intent: Intent) -> str:  # fmt: skip
    """The charge's status once a paid intent is recorded (once, under the charge's lock)."""
    if intent.status != "succeeded" or intent.charge_id is None:
        async with tx() as conn:
            charge = await q.lock_charge(conn, charge_id)
            assert charge is not None
            return charge.status
    captured = await gateway.captured(intent.charge_id)
    async with tx() as conn:
        charge = await q.lock_charge(conn, charge_id)
        assert charge is not None
        if charge.status in ("failed", "balance_due"):
            await charges.record_success(conn, charge, intent, captured)
            return "succeeded"
        return charge.status


async def _intent(tx: Transactions, gateway: StripeGateway, charge: ChargeRow,
                  customer: str | None, attempt: int) -> tuple[Intent, str]:  # fmt: skip
    """The charge's intent and secret: its own, or one made for it now (its id stored)."""
    if charge.payment_intent_id is not None:
        return await gateway.get_intent_secret(charge.payment_intent_id)
    try:
        intent, secret = await gateway.create_payable_intent(
            key=f"charge-{charge.id}-a{attempt}", customer=customer,
            amount=charges.to_card(charge), metadata=charges.intent_metadata(charge),
        )  # fmt: skip
    except StripeFailed as exc:
        if not exc.transient:  # Stripe keeps the error under the key: the next takes n+1
            async with tx() as conn:
                await rq.update_charge_attempt(conn, charge.id, attempt + 1, clock.now())
        raise
    async with tx() as conn:
        await q.update_intent(conn, charge.id, intent.id, clock.now())
    return intent, secret


async def _credit_first(conn: asyncpg.Connection, charge: ChargeRow) -> ChargeRow | None:
    """The charge after the client's credit settled what it could (None: no credit)."""
    if charge.status not in ("failed", "balance_due") or await _closed_by_credit(conn, charge):
        return None
    return await charges.apply_credit(conn, charge)


async def _closed_by_credit(conn: asyncpg.Connection, charge: ChargeRow) -> bool:
    """A charge sent before that a credit closed (the rest is a charge of its own)."""
    if charge.status == "succeeded" or charge.credit_applied_cents == 0:
        return False
    recovery = await rq.lock_recovery(conn, charge.id)
    return recovery is not None and recovery.status == "paid"


async def _refusal(
    tx: Transactions, client_id: uuid.UUID, customer: str | None,
    exc: StripeFailed | StripeUnknown,
) -> DomainError:  # fmt: skip
    """What the client is told when Stripe did not take the request: no answer or an outage
    (503, try again), or Stripe refused it and why (its code): the same request would be
    refused again. A customer Stripe no longer knows is forgotten (lost_customers.py)."""
    if isinstance(exc, StripeUnknown):
        return StripeUnavailable("Stripe did not answer: try again")
    if exc.transient:
        return StripeUnavailable(f"Stripe is unavailable ({exc.code}): try again")
    if customer is not None and customer_lost(exc):
        async with tx() as conn:
            await forget_customer(conn, client_id, customer)
        return StripeCustomerLost(
            "Stripe no longer has the card saved for you: pay with a card now, or save one "
            "again", field="charge_id",
        )  # fmt: skip
    return StripeRefused(f"Stripe refused the payment ({exc.code})", field="charge_id")


async def pay_charge(
    tx: Transactions, gateway: StripeGateway, actor: Actor, charge_id: uuid.UUID,
    data: PayChargeIn, request_key: str | None,
) -> ChargePaymentOut:  # fmt: skip
    """The client secret to pay the charge on-session, or the charge paid with a saved card."""
    async with tx() as conn:
        charge = await _visible_charge(conn, actor, charge_id)
        _check_payable(charge)
        # The client's credit first settles the charge (committed even when the answer is
        # that nothing is left to pay here).
        credited = await _credit_first(conn, charge)
    if credited is not None:
        if credited.status == "succeeded":
            return _out(credited, "succeeded", None, None)
        _check_payable(credited)
    async with tx() as conn:
        charge = await _visible_charge(conn, actor, charge_id)
        if await _closed_by_credit(conn, charge):
            raise ChargeNotPayable("your credit settled this balance; what was left of it is "
                                   "a charge of its own", field="charge_id")  # fmt: skip
        _check_payable(charge)
        if await q.sum_refunds_of_charge(conn, charge.id, ("applied",)) > 0:
            raise ChargeNotPayable("a refund reduced this balance: ask us to settle it",
                                   field="charge_id")  # fmt: skip
        method = data.payment_method_id
        if method is not None and not await rq.has_saved_card(conn, charge.client_id, method):
            raise Unprocessable("not one of the client's saved cards", field="payment_method_id")
        customer = await q.get_customer(conn, charge.client_id)
        # A balance due keeps its attempt while an intent's creation is unknown (the key
        # replays it); a failed charge's last key answered an error: the next one.
        attempt = charge.attempt + 1 if charge.status == "failed" else max(charge.attempt, 1)
        if charge.payment_intent_id is None and attempt != charge.attempt:
            await rq.update_charge_attempt(conn, charge.id, attempt, clock.now())
        await audit.record(conn, actor, "update", charges.ENTITY, [charge.id])
    try:
        intent, secret = await _intent(tx, gateway, charge, customer, attempt)
        decline = None
        if method is not None and intent.status in PAYABLE:
            digest = hashlib.sha256((request_key or uuid.uuid4().hex).encode()).hexdigest()[:32]
            try:
                intent = await gateway.confirm_intent(key=f"pay-{charge.id}-{digest}",
                                                      intent_id=intent.id, method=method,
                                                      off_session=False)  # fmt: skip
            except Declined as exc:
                decline = exc.decline_code or exc.failure_code
                intent, secret = await gateway.get_intent_secret(intent.id)
        status = await _record_if_paid(tx, gateway, charge.id, intent)
    except (StripeFailed, StripeUnknown) as exc:
        raise await _refusal(tx, charge.client_id, customer, exc) from exc
    return _out(charge, status, intent, secret, decline)


async def get_charge_payment(
    tx: Transactions, gateway: StripeGateway, actor: Actor, charge_id: uuid.UUID
) -> ChargePaymentOut:
    """Where the charge's payment stands, its intent re-read (a paid one recorded now)."""
    async with tx() as conn:
        charge = await _visible_charge(conn, actor, charge_id)
        await audit.record(conn, actor, "read", charges.ENTITY, [charge.id])
    if charge.payment_intent_id is None:
        return _out(charge, charge.status, None, None)
    try:
        intent, secret = await gateway.get_intent_secret(charge.payment_intent_id)
        status = await _record_if_paid(tx, gateway, charge.id, intent)
    except (StripeFailed, StripeUnknown) as exc:
        raise await _refusal(tx, charge.client_id, None, exc) from exc
    return _out(charge, status, intent, secret if status != "succeeded" else None)


async def charge_again(conn: asyncpg.Connection, client_id: uuid.UUID) -> int:
    """The client's no-card balances due queued for charging (a card was just saved); how
    many."""
    queued = await rq.update_requeued(conn, client_id, clock.now())
    for charge_id in queued:
        await outbox.add(
            conn, ChargeClientJob(charge_id=charge_id), dedupe_key=f"charge-{charge_id}"
        )
    if queued:
        await audit.record(conn, SYSTEM, "update", charges.ENTITY, queued)
    return len(queued)
