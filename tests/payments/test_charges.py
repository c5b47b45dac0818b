"""The estimate charged at completion against the Stripe simulator: once, also when the job
runs twice or after a timeout; declines and missing cards become a balance due; $0 charges
nothing; the ledger balances after each event."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from schemas.ledger import AccountRef
from services.core.settings import Settings
from services.ledger import service as ledger
from services.payments import service
from services.payments.charges import charge_client
from tests.payments import world as w
from tests.therapy_sessions.completion import arrange, completion_body

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
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed()
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["amount_cents"]) == ("pending", SELF_PAY_90837)
    (outbox_id,) = await w.open_outbox(c.db, "charge_client")
    assert await charge_client(c.tx, c.gateway, outbox_id) == "succeeded"
    assert await charge_client(c.tx, c.gateway, outbox_id) == "done before"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"], charge["fee_cents"]) == ("succeeded", 1, FEE)
    intents = await c.intents()
    assert [(pi.id, pi.amount, pi.status) for pi in intents] == [
        (charge["payment_intent_id"], SELF_PAY_90837, "succeeded")
    ]
    assert intents[0].metadata["hearth_charge_id"] == str(charge["id"])
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await _client_owes(c.db, visit.client.client_id) == 0
    stripe_balance = await ledger.get_account_balance(c.db, AccountRef(kind="stripe_balance"))
    assert stripe_balance.balance_cents == SELF_PAY_90837 - FEE
    await _balanced(c.db)


async def test_a_timeout_then_a_retry_charges_once(charging: w.Charging) -> None:
    c = charging
    visit, outbox_id, _ = await c.answer_lost()  # Stripe made the intent, the answer was lost
    await _balanced(c.db)
    # The next run finds the intent by its metadata among the customer's, and charges nothing.
    assert await charge_client(c.tx, c.gateway, outbox_id) == "succeeded"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("succeeded", 1)
    assert [pi.id for pi in await c.intents()] == [charge["payment_intent_id"]]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    await _balanced(c.db)


async def test_a_500_takes_the_next_key_and_charges_once(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed()
    await c.fault({"kind": "error", "path_prefix": "/v1/payment_intents", "method": "POST",
                   "count": 1})  # fmt: skip
    (outbox_id,) = await w.open_outbox(c.db, "charge_client")
    assert await charge_client(c.tx, c.gateway, outbox_id) == "retry"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("pending", 1)
    assert await charge_client(c.tx, c.gateway, outbox_id) == "succeeded"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("succeeded", 2)
    assert [pi.id for pi in await c.intents()] == [charge["payment_intent_id"]]
    await _balanced(c.db)


async def test_a_decline_is_a_balance_due(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(w.DECLINES_WHEN_CHARGED)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert charge["status"] == "failed"
    assert (charge["failure_code"], charge["decline_code"]) == ("card_declined", "generic_decline")
    assert charge["payment_intent_id"] is not None
    assert await w.captured_entries(c.db, charge["id"]) == 0
    assert await _client_owes(c.db, visit.client.client_id) == SELF_PAY_90837
    await _balanced(c.db)


async def test_no_card_on_file_is_a_balance_due(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(None)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["balance_due"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["failure_code"]) == ("balance_due", "no_card_on_file")
    assert await _client_owes(c.db, visit.client.client_id) == SELF_PAY_90837


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


async def test_a_recorded_session_is_charged_once_too(charging: w.Charging) -> None:
    c = charging
    visit = await arrange(c.db, c.settings, insured=False)
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    body = completion_body(client_id=str(visit.client.client_id), policy_id=None)
    headers = c.token(visit.provider)
    response = await c.api.post("/therapy-sessions/recorded", json=body, headers=headers)
    assert response.status_code == 201, response.text
    session_id = uuid.UUID(response.json()["session"]["id"])
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    (charge,) = await w.charges_of(c.db, session_id)
    assert (charge["status"], charge["amount_cents"]) == ("succeeded", SELF_PAY_90837)
    assert len(await c.intents()) == 1
    await _balanced(c.db)
