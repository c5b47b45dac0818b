"""Helpers of the payments tests: a card saved as a frontend and Stripe would save it, signed
webhook deliveries, and the outbox's jobs run by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import stripe

from schemas.ledger import AccountRef, EntryIn, Line
from services.core import clock
from services.core.auth import Actor
from services.core.db import transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payments import service
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from services.payments.true_ups import refund_client
from services.payments.webhooks import handle_stripe_event, receive
from tests.therapy_sessions.completion import Visit, arrange, complete

VISA = "4242424242424242"
DECLINES_WHEN_CHARGED = "4000000000000341"


def signed(body: bytes, secret: str, at: int | None = None) -> dict[str, str]:
    stamp = int(clock.now().timestamp()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


def event(kind: str, object_id: str, event_id: str | None = None) -> bytes:
    """An event as Stripe sends it; the job re-reads the object, so its copy is a stub."""
    body = {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
            "data": {"object": {"id": object_id, "object": kind.split(".")[0]}}}  # fmt: skip
    return json.dumps(body).encode()


async def deliver(api: httpx.AsyncClient, body: bytes, secret: str) -> httpx.Response:
    return await api.post("/webhooks/stripe", content=body, headers=signed(body, secret))


async def open_outbox(db: asyncpg.Connection, job: str) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM outbox WHERE job = $1 AND completed_at IS NULL ORDER BY id", job
    )
    return [r["id"] for r in rows]


async def run_events(db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway) -> list[str]:
    return [await handle_stripe_event(tx, gateway, n)
            for n in await open_outbox(db, "handle_stripe_event")]  # fmt: skip


async def run_charges(
    db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway
) -> list[str]:
    return [await charge_client(tx, gateway, n) for n in await open_outbox(db, "charge_client")]


def confirm_card(sdk: stripe.StripeClient, client_secret: str, number: str = VISA) -> str:
    """What Stripe.js does with the secret: the card confirmed on the SetupIntent; its id."""
    intent_id = client_secret.split("_secret")[0]
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    confirmed = sdk.v1.setup_intents.confirm(intent_id, params={"payment_method": method.id})
    assert confirmed.status == "succeeded"
    return intent_id


async def save_card(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    sdk: stripe.StripeClient, who: Actor, secret: str, number: str = VISA,
) -> str:  # fmt: skip
    """A card saved end to end (setup, confirmation, webhook, job); the SetupIntent's id."""
    assert who.client_id is not None
    setup = await service.start_payment_setup(tx, gateway, who, who.client_id)
    intent_id = confirm_card(sdk, setup.client_secret, number)
    response = await deliver(api, event("setup_intent.succeeded", intent_id), secret)
    assert response.status_code == 200, response.text
    assert await run_events(db, tx, gateway) == ["card saved"]
    return intent_id


async def charges_of(db: asyncpg.Connection, source_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, status, amount_cents, attempt, payment_intent_id, fee_cents, failure_code,"
        " decline_code FROM client_charges WHERE source_id = $1",
        source_id,
    )
    return [dict(r) for r in rows]


async def entries_of(db: asyncpg.Connection, kind: str, source_id: uuid.UUID) -> int:
    """How many journal entries of `kind` a row (a charge, a refund) made."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM journal_entries WHERE kind = $1 AND source_id = $2", kind, source_id
    )
    return count


async def captured_entries(db: asyncpg.Connection, charge_id: uuid.UUID) -> int:
    return await entries_of(db, "card_captured", charge_id)


LOSE_THE_ANSWER = {"kind": "timeout", "path_prefix": "/v1/payment_intents", "method": "POST",
                   "count": 1, "delay_s": 0.5, "after": True}  # fmt: skip


@dataclass
class Charging:
    """A test's parts for charging a completed session's client (the `charging` fixture)."""

    db: asyncpg.Connection
    api: httpx.AsyncClient
    tx: Transactions
    gateway: StripeGateway
    sdk: stripe.StripeClient
    admin: httpx.AsyncClient
    settings: Settings
    token: Any

    async def completed(self, number: str | None = VISA) -> Visit:
        """A self-pay session completed through the API, its client's card (`number`, None:
        no card) saved first."""
        visit = await arrange(self.db, self.settings, insured=False)
        if number is not None:
            await save_card(self.db, self.api, self.tx, self.gateway, self.sdk, visit.client,
                            self.settings.stripe_webhook_secret, number)  # fmt: skip
        await complete(self.api, self.token, visit)
        return visit

    async def answer_lost(self) -> tuple[Visit, int, dict[str, Any]]:
        """A completed session whose charge's call made the intent at Stripe and lost the
        answer (the run ends "unknown"): the visit, the outbox row, the charge as left."""
        visit = await self.completed()
        await self.fault(LOSE_THE_ANSWER)
        (outbox_id,) = await open_outbox(self.db, "charge_client")
        assert await charge_client(self.tx, self.gateway, outbox_id) == "unknown"
        (charge,) = await charges_of(self.db, visit.session.id)
        assert (charge["status"], charge["payment_intent_id"]) == ("submitting", None)
        return visit, outbox_id, charge

    async def fault(self, rule: dict[str, Any]) -> None:
        assert (await self.admin.post("/_admin/faults", json=rule)).status_code == 200

    async def intents(self) -> list[Any]:
        """The intents Stripe holds for the (one) customer."""
        customer = await self.db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
        return list(self.sdk.v1.payment_intents.list(params={"customer": customer}).data)


async def committed_setup(
    pool: asyncpg.Pool, gateway: StripeGateway, sdk: stripe.StripeClient, settings: Settings
) -> Visit:
    """Committed: a self-pay visit, and its client's card confirmed at Stripe with the
    setup_intent.succeeded event stored (its job queued, not run)."""
    async with transaction(pool) as conn:
        visit = await arrange(conn, settings, insured=False)
    assert visit.client.client_id is not None
    tx = Transactions(lambda: pool.acquire())
    setup = await service.start_payment_setup(tx, gateway, visit.client, visit.client.client_id)
    body = event("setup_intent.succeeded", confirm_card(sdk, setup.client_secret))
    secret = settings.stripe_webhook_secret
    async with transaction(pool) as conn:
        await receive(conn, body, signed(body, secret)["Stripe-Signature"], secret)
    return visit


async def completion_owed(
    conn: asyncpg.Connection, client_id: uuid.UUID, session_id: uuid.UUID, cents: int
) -> None:
    """The receivable a completion charge collects, as completion books it (the charge job
    applies any credit the ledger shows first: a charge with no debt behind it looks paid)."""
    receivable = AccountRef(kind="client_receivable", owner_id=client_id)
    await post_entry(conn, EntryIn(
        kind="completion", idempotency_key=f"completion-{session_id}",
        source_table="therapy_sessions", source_id=session_id,
        lines=(Line(account=receivable, side="debit", amount_cents=cents),
               Line(account=AccountRef(kind="platform_revenue"), side="credit",
                    amount_cents=cents)),
    ))  # fmt: skip


async def committed_charge(
    pool: asyncpg.Pool, gateway: StripeGateway, sdk: stripe.StripeClient, settings: Settings,
    amount_cents: int,
) -> tuple[Visit, int]:  # fmt: skip
    """Committed: a self-pay visit whose client's card is saved, and a completion charge of
    `amount_cents` queued with the receivable it collects (a recovery applies any credit the
    ledger shows first); the visit and the charge_client outbox row."""
    visit = await committed_setup(pool, gateway, sdk, settings)
    assert visit.client.client_id is not None
    async with transaction(pool) as conn:
        await completion_owed(conn, visit.client.client_id, visit.session.id, amount_cents)
        await service.add_completion_charge(
            conn, visit.client.client_id, visit.session.id, amount_cents
        )
    async with transaction(pool) as conn:
        assert await run_events(conn, Transactions.within(conn), gateway) == ["card saved"]
        (outbox_id,) = await open_outbox(conn, "charge_client")
    return visit, outbox_id


async def run_refunds(
    db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway
) -> list[str]:
    return [await refund_client(tx, gateway, n) for n in await open_outbox(db, "refund_client")]
