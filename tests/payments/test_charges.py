"""The estimate charged at completion against the Stripe simulator: once, also when the job
runs twice or after a timeout; declines and missing cards become a balance due; $0 charges
nothing; the ledger balances after each event."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
import stripe

from schemas.ledger import AccountRef
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger import service as ledger
from services.payments import service
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from tests.payments import world as w
from tests.therapy_sessions.completion import arrange, complete

pytestmark = [
    pytest.mark.usefixtures("clock"),
    # The SDK's async client hands httpx raw bytes as `data=` (its deprecation, not ours).
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

SELF_PAY_90837 = 19000  # tests/therapy_sessions/completion.py PRICES
FEE = 581  # Stripe's 2.9% + 30 cents of $190.00, as the simulator's balance transaction says


async def _balanced(db: asyncpg.Connection) -> None:
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def _client_owes(db: asyncpg.Connection, client_id: uuid.UUID | None) -> int:
    assert client_id is not None
    balances = await ledger.list_owner_balances(db, client_id)
    return sum(b.balance_cents for b in balances if b.kind == "client_receivable")


async def test_one_charge_per_completion_even_when_the_job_runs_twice(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    secret = settings.stripe_webhook_secret
    await w.save_card(db, api, tx, gateway, stripe_client, visit.client, secret)
    await complete(api, token, visit)
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["amount_cents"]) == ("pending", SELF_PAY_90837)
    (outbox_id,) = await w.open_outbox(db, "charge_client")
    assert await charge_client(tx, gateway, outbox_id) == "succeeded"
    assert await charge_client(tx, gateway, outbox_id) == "done before"
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["attempt"], charge["fee_cents"]) == ("succeeded", 1, FEE)
    customer = await db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
    intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
    assert [(pi.id, pi.amount, pi.status) for pi in intents] == [
        (charge["payment_intent_id"], SELF_PAY_90837, "succeeded")
    ]
    assert intents[0].metadata["hearth_charge_id"] == str(charge["id"])
    assert await w.captured_entries(db, charge["id"]) == 1
    assert await _client_owes(db, visit.client.client_id) == 0
    stripe_balance = await ledger.get_account_balance(db, AccountRef(kind="stripe_balance"))
    assert stripe_balance.balance_cents == SELF_PAY_90837 - FEE
    await _balanced(db)


async def test_a_timeout_then_a_retry_charges_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, settings: Settings,
    token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    await w.save_card(db, api, tx, gateway, stripe_client, visit.client,
                      settings.stripe_webhook_secret)  # fmt: skip
    await complete(api, token, visit)
    # Stripe makes the intent, and the answer is lost.
    rule = {"kind": "timeout", "path_prefix": "/v1/payment_intents", "method": "POST",
            "count": 1, "delay_s": 0.5, "after": True}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=rule)).status_code == 200
    (outbox_id,) = await w.open_outbox(db, "charge_client")
    assert await charge_client(tx, gateway, outbox_id) == "unknown"
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["payment_intent_id"]) == ("submitting", None)
    await _balanced(db)
    assert await charge_client(tx, gateway, outbox_id) == "succeeded"
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("succeeded", 1)
    customer = await db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
    intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
    assert [pi.id for pi in intents] == [charge["payment_intent_id"]]
    assert await w.captured_entries(db, charge["id"]) == 1
    await _balanced(db)


async def test_a_500_takes_the_next_key_and_charges_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, settings: Settings,
    token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    await w.save_card(db, api, tx, gateway, stripe_client, visit.client,
                      settings.stripe_webhook_secret)  # fmt: skip
    await complete(api, token, visit)
    rule = {"kind": "error", "path_prefix": "/v1/payment_intents", "method": "POST", "count": 1}
    assert (await stripe_admin.post("/_admin/faults", json=rule)).status_code == 200
    (outbox_id,) = await w.open_outbox(db, "charge_client")
    assert await charge_client(tx, gateway, outbox_id) == "retry"
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("pending", 1)
    assert await charge_client(tx, gateway, outbox_id) == "succeeded"
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("succeeded", 2)
    await _balanced(db)


async def test_a_decline_is_a_balance_due(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    await w.save_card(db, api, tx, gateway, stripe_client, visit.client,
                      settings.stripe_webhook_secret, w.DECLINES_WHEN_CHARGED)  # fmt: skip
    await complete(api, token, visit)
    assert await w.run_charges(db, tx, gateway) == ["failed"]
    (charge,) = await w.charges_of(db, visit.session.id)
    assert charge["status"] == "failed"
    assert (charge["failure_code"], charge["decline_code"]) == ("card_declined", "generic_decline")
    assert charge["payment_intent_id"] is not None
    assert await w.captured_entries(db, charge["id"]) == 0
    assert await _client_owes(db, visit.client.client_id) == SELF_PAY_90837
    await _balanced(db)


async def test_no_card_on_file_is_a_balance_due(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    settings: Settings, token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    await complete(api, token, visit)
    assert await w.run_charges(db, tx, gateway) == ["balance_due"]
    (charge,) = await w.charges_of(db, visit.session.id)
    assert (charge["status"], charge["failure_code"]) == ("balance_due", "no_card_on_file")
    assert await _client_owes(db, visit.client.client_id) == SELF_PAY_90837


async def test_nothing_for_zero_and_a_balance_due_under_stripes_minimum(
    db: asyncpg.Connection, settings: Settings
) -> None:
    visit = await arrange(db, settings, insured=False)
    assert visit.client.client_id is not None
    first, second = visit.session.id, visit.policy_id
    assert await service.add_completion_charge(db, visit.client.client_id, first, 0) is None
    assert await w.charges_of(db, first) == []
    small = await service.add_completion_charge(db, visit.client.client_id, second, 49)
    (charge,) = await w.charges_of(db, second)
    assert (charge["id"], charge["status"], charge["failure_code"]) == (
        small, "balance_due", "below_stripe_minimum",
    )  # fmt: skip
    assert await w.open_outbox(db, "charge_client") == []
    # A repeat writes nothing (one charge per session, ever).
    assert await service.add_completion_charge(db, visit.client.client_id, second, 49) is None
