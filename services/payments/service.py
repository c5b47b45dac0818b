"""Payments use cases: the card on file (a Stripe customer per client, the SetupIntent, the
cards), and the charge a completion writes (charges.py has the charge_client job).

Calls to Stripe are made with no transaction or connection held: a short transaction reads
and writes the intent (the customer row with its attempt, the setup with its consent), the
call follows, and a second short transaction stores what Stripe answered.
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.payments import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    PaymentMethodOut,
    PaymentMethodsOut,
    PaymentSetupOut,
)
from services.clients import service as clients
from services.core import audit, clock
from services.core.auth import Actor
from services.core.transactions import Transactions
from services.payments import charges
from services.payments import queries as q
from services.payments.errors import PaymentMethodNotFound, StripeUnavailable
from services.payments.gateway import StripeFailed, StripeGateway, StripeUnknown
from services.payments.lost_customers import customer_lost, forget_customer

SETUP = "payment_setup"
METHOD = "payment_method"


async def add_completion_charge(
    conn: asyncpg.Connection, client_id: uuid.UUID, session_id: uuid.UUID, share_cents: int
) -> uuid.UUID | None:
    """The estimated share of a confirmed session, charged once its transaction commits
    (the charge row and its outbox row written in it); None for $0 or when written before."""
    return await charges.add_charge(
        conn, client_id, "completion", ("therapy_sessions", session_id), share_cents
    )


async def _customer(
    tx: Transactions, gateway: StripeGateway, client_id: uuid.UUID, stored: str | None,
    attempt: int,
) -> str:  # fmt: skip
    """The client's Stripe customer, created once (customer-{client}-a{n}: two concurrent
    setups send the same key and get the same customer)."""
    if stored is not None:
        return stored
    try:
        made = await gateway.create_customer(client_id, attempt)
    except StripeFailed as exc:
        async with tx() as conn:  # Stripe keeps the error under that key: the next takes n+1
            await q.update_customer_attempt(conn, client_id, attempt + 1, clock.now())
        raise StripeUnavailable(f"Stripe refused the customer ({exc.code}): try again") from exc
    except StripeUnknown as exc:
        raise StripeUnavailable("Stripe did not answer: try again") from exc
    async with tx() as conn:
        return await q.update_customer_id(conn, client_id, made, clock.now())


async def _setup_intent(
    tx: Transactions, gateway: StripeGateway, client_id: uuid.UUID, customer: str,
    setup_id: uuid.UUID,
) -> tuple[str, str]:  # fmt: skip
    """The setup's SetupIntent for the client's customer. A customer Stripe no longer knows (a
    test-mode reset, a restarted dev simulator) is forgotten and a new one made, once: the
    setup heals instead of refusing until someone clears the row."""
    try:
        return await gateway.create_setup_intent(customer, setup_id)
    except StripeFailed as exc:
        if not customer_lost(exc):
            raise StripeUnavailable("Stripe did not set the card up: try again") from exc
    except StripeUnknown as exc:
        raise StripeUnavailable("Stripe did not set the card up: try again") from exc
    async with tx() as conn:
        await forget_customer(conn, client_id, customer)
        stored, attempt = await q.lock_customer(conn, client_id)  # a concurrent setup's, or None
    customer = await _customer(tx, gateway, client_id, stored, attempt)
    try:  # a2: Stripe keeps its refusal under a1
        return await gateway.create_setup_intent(customer, setup_id, attempt=2)
    except (StripeFailed, StripeUnknown) as exc:
        raise StripeUnavailable("Stripe did not set the card up: try again") from exc


async def start_payment_setup(
    tx: Transactions, gateway: StripeGateway, actor: Actor, client_id: uuid.UUID
) -> PaymentSetupOut:
    """A SetupIntent (off_session) for the client's card and the consent text to show; its
    confirmation arrives by webhook (setup_intent.succeeded)."""
    async with tx() as conn:
        await clients.visible_client(conn, actor, client_id)
        now = clock.now()
        await q.insert_customer(conn, client_id, now)
        stored, attempt = await q.lock_customer(conn, client_id)
        setup_id = await q.insert_setup(conn, client_id, CONSENT_VERSION, now)
        await audit.record(conn, actor, "create", SETUP, [setup_id])
    customer = await _customer(tx, gateway, client_id, stored, attempt)
    intent_id, secret = await _setup_intent(tx, gateway, client_id, customer, setup_id)
    async with tx() as conn:
        await q.update_setup_intent(conn, setup_id, intent_id)
    return PaymentSetupOut(
        setup_id=setup_id, client_secret=secret, consent_text=CONSENT_TEXT,
        consent_version=CONSENT_VERSION, consented_at=now,
    )  # fmt: skip


async def list_payment_methods(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID
) -> PaymentMethodsOut:
    """The client's saved cards, newest first, the default flagged."""
    await clients.visible_client(conn, actor, client_id)
    await audit.record(conn, actor, "read", METHOD, [client_id])
    return PaymentMethodsOut(items=await q.list_methods(conn, client_id))


async def remove_payment_method(
    tx: Transactions, gateway: StripeGateway, actor: Actor, client_id: uuid.UUID, method_id: str
) -> None:
    """Detach the card at Stripe (directly, nothing held), then mark it removed; the newest
    card left becomes the default."""
    async with tx() as conn:
        await clients.visible_client(conn, actor, client_id)
        method: PaymentMethodOut | None = await q.get_method(conn, client_id, method_id)
        if method is None:
            raise PaymentMethodNotFound("payment method not found", field="payment_method_id")
    try:
        await gateway.detach_card(method_id)
    except (StripeFailed, StripeUnknown) as exc:
        raise StripeUnavailable("Stripe did not remove the card: try again") from exc
    async with tx() as conn:
        await q.update_method_removed(conn, client_id, method_id, clock.now())
        await q.update_default_method(conn, client_id)
        await audit.record(conn, actor, "delete", METHOD, [client_id])
