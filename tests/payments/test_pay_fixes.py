"""Client-payment defects found at merge, each against the Stripe simulator: the card that paid
is the one named; a Stripe refusal is not "did not answer", and a customer Stripe no longer
knows is forgotten; the client's credit first settles a charge in the charge job and on the
pay page; a failed refund paid another way leaves its true-up refunded; a charge a credit
settled leaves ops' failed-payments list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.core import clock
from tests.payments import recovery_world as r
from tests.payments import world as w
from tests.payments.test_payment_queues import refund_failed_at_card
from tests.payments.test_recovery import _balanced, _credit, _owes
from tests.payments.test_true_ups import ESTIMATE

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

AMOUNT = 19000  # tests/therapy_sessions/completion.py PRICES, self-pay 90837
MASTERCARD_4444 = "5555555555554444"


async def test_the_card_that_paid_on_session_is_the_one_named(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "generic_decline", w.DECLINES_WHEN_CHARGED)
    visit = charge["visit"]
    url = f"/client-charges/{charge['id']}/payment"
    assert (await c.api.post(url, headers=c.token(visit.client))).status_code == 200
    # Stripe.js confirms the intent with another card, typed in and never saved.
    card = {"number": MASTERCARD_4444, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(charge["payment_intent_id"],
                                     params={"payment_method": method.id})  # fmt: skip
    got = await c.api.get(url, headers=c.token(visit.client))
    assert got.json()["charge_status"] == "succeeded", got.text
    stored = await c.db.fetchrow(
        "SELECT payment_method_id, card_last4 FROM client_charges WHERE id = $1", charge["id"]
    )
    assert tuple(stored) == (method.id, "4444")
    client_id = visit.client.client_id
    listed = await c.api.get(f"/clients/{client_id}/charges", headers=c.token(visit.client))
    (item,) = listed.json()["items"]
    assert (item["status"], item["card_last4"]) == ("succeeded", "4444")
    month = clock.now().strftime("%Y-%m")
    statement = await c.api.get(f"/clients/{client_id}/statements/{month}",
                                headers=c.token(visit.client))  # fmt: skip
    assert statement.status_code == 200, statement.text
    assert "ending 4444" in statement.text
    assert "ending 0341" not in statement.text
    await _balanced(c.db)


async def test_a_customer_stripe_no_longer_knows_fails_with_its_code_and_is_forgotten(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed()
    client_id = visit.client.client_id
    attempt = await c.db.fetchval("SELECT attempt FROM stripe_customers")
    # The simulator restarted over an old database: the stored customer is unknown to it.
    await c.db.execute("UPDATE stripe_customers SET stripe_customer_id = 'cus_gone'")
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["failure_code"]) == ("failed", "resource_missing")
    customer = await c.db.fetchrow("SELECT stripe_customer_id, attempt FROM stripe_customers")
    assert tuple(customer) == (None, attempt + 1)
    saved = await c.api.get(f"/clients/{client_id}/payment-methods",
                            headers=c.token(visit.client))  # fmt: skip
    assert saved.json()["items"] == []
    assert await r.follow_ups(c) == ["hard decline"]
    # The client pays on-session: an intent with no customer, under the charge's next key.
    url = f"/client-charges/{charge['id']}/payment"
    paying = await c.api.post(url, headers=c.token(visit.client))
    assert paying.status_code == 200, paying.text
    assert paying.json()["charge_status"] == "failed"
    assert paying.json()["client_secret"]
    # Saving a card again makes a new customer (customer-{client}-a{n+1}).
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    assert await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers") not in (
        None, "cus_gone",
    )  # fmt: skip


async def test_a_stripe_refusal_on_the_pay_page_says_so_and_is_never_a_503(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    visit = charge["visit"]
    # The simulator restarted over an old database: the charge's intent is unknown to it.
    await c.db.execute("UPDATE client_charges SET payment_intent_id = 'pi_gone' WHERE id = $1",
                       charge["id"])  # fmt: skip
    url = f"/client-charges/{charge['id']}/payment"
    for refused in (await c.api.post(url, headers=c.token(visit.client)),
                    await c.api.get(url, headers=c.token(visit.client))):  # fmt: skip
        assert refused.status_code == 502, refused.text
        body = refused.json()
        assert (body["code"], body["detail"]) == (
            "stripe_refused", "Stripe refused the payment (resource_missing)",
        )  # fmt: skip
    await c.fault({"kind": "error", "status": 503, "path_prefix": "/v1/payment_intents",
                   "method": "GET", "count": 1})  # fmt: skip
    down = await c.api.get(url, headers=c.token(visit.client))
    assert (down.status_code, down.json()["code"]) == (503, "stripe_unavailable"), down.text


async def test_a_lost_customer_on_the_pay_page_is_forgotten_and_the_next_try_pays(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed(number=None)
    await c.api.post(
        f"/clients/{visit.client.client_id}/payment-setup", headers=c.token(visit.client)
    )  # a customer made, no card saved
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["balance_due"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    await c.db.execute("UPDATE stripe_customers SET stripe_customer_id = 'cus_gone'")
    url = f"/client-charges/{charge['id']}/payment"
    lost = await c.api.post(url, headers=c.token(visit.client))
    assert (lost.status_code, lost.json()["code"]) == (409, "stripe_customer_lost"), lost.text
    assert await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers") is None
    paying = await c.api.post(url, headers=c.token(visit.client))
    assert paying.status_code == 200, paying.text
    intent = c.sdk.v1.payment_intents.retrieve(paying.json()["payment_intent_id"])
    assert (intent.amount, intent.customer) == (AMOUNT, None)


async def test_the_charge_job_applies_a_credit_before_its_first_call(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed()
    client_id = visit.client.client_id
    await _credit(c.db, client_id, 5000)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert [pi.amount for pi in await c.intents()] == [AMOUNT - 5000]
    applied = await c.db.fetchval(
        "SELECT credit_applied_cents FROM client_charges WHERE id = $1", charge["id"]
    )
    assert applied == 5000
    assert await _owes(c.db, client_id) == 0
    await _balanced(c.db)


async def test_a_credit_covering_a_charge_settles_it_with_no_call(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed()
    client_id = visit.client.client_id
    await _credit(c.db, client_id, AMOUNT + 1000)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["settled by credit"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["payment_intent_id"]) == ("succeeded", None)
    assert await c.intents() == []
    assert await _owes(c.db, client_id) == -1000
    balance = await c.api.get(f"/clients/{client_id}/balance", headers=c.token(visit.client))
    assert (balance.json()["credit_cents"], balance.json()["owed_now_cents"]) == (1000, 0)
    assert await w.run_charges(c.db, c.tx, c.gateway) == []
    await _balanced(c.db)


async def test_the_pay_page_applies_a_credit_to_a_failed_charge_and_ops_no_longer_list_it(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    visit = charge["visit"]
    await _credit(c.db, charge["client_id"], AMOUNT)  # the session voided: the estimate back
    url = f"/client-charges/{charge['id']}/payment"
    paying = await c.api.post(url, headers=c.token(visit.client))
    assert paying.status_code == 409, paying.text
    settled = await c.db.fetchrow(
        "SELECT ch.credit_applied_cents, cr.status FROM client_charges ch"
        " JOIN charge_recoveries cr ON cr.charge_id = ch.id WHERE ch.id = $1",
        charge["id"],
    )
    assert tuple(settled) == (AMOUNT, "paid")
    assert await w.charges_of(c.db, charge["id"]) == []  # nothing left to charge
    assert await _owes(c.db, charge["client_id"]) == 0
    ops = c.token(visit.ops)
    listed = await c.api.get("/payments/failed", headers=ops)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    everything = await c.api.get("/payments/failed", params={"include_settled": "true"},
                                 headers=ops)  # fmt: skip
    (item,) = everything.json()["items"]
    assert (item["id"], item["recovery_status"], item["credit_applied_cents"]) == (
        str(charge["id"]), "paid", AMOUNT,
    )  # fmt: skip
    # No retry charges it either.
    clock.CLOCK.advance(timedelta(days=1))
    assert await r.retries(c) == ["nothing to retry"]
    await _balanced(c.db)


async def test_the_pay_page_applies_a_credit_to_a_balance_never_sent(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed(number=None)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["balance_due"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    await _credit(c.db, visit.client.client_id, 5000)
    url = f"/client-charges/{charge['id']}/payment"
    paying = await c.api.post(url, headers=c.token(visit.client))
    assert paying.status_code == 200, paying.text
    assert paying.json()["amount_cents"] == AMOUNT - 5000
    intent = c.sdk.v1.payment_intents.retrieve(paying.json()["payment_intent_id"])
    assert intent.amount == AMOUNT - 5000
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(intent.id, params={"payment_method": method.id})
    got = await c.api.get(url, headers=c.token(visit.client))
    assert got.json()["charge_status"] == "succeeded", got.text
    assert await _owes(c.db, visit.client.client_id) == 0
    await _balanced(c.db)


async def test_a_failed_refund_paid_elsewhere_leaves_its_true_up_refunded(
    charging: w.Charging,
) -> None:
    c = charging
    claimed, true_up_id, refund = await refund_failed_at_card(c)
    body = w.event("charge.refund.updated", refund["stripe_refund_id"])
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["refund reversed"]
    status = "SELECT status FROM client_true_ups WHERE id = $1"
    assert await c.db.fetchval(status, true_up_id) == "credit"
    ops = c.token(claimed.ops)
    (item,) = (await c.api.get("/payments/queues/failed-refunds", headers=ops)).json()["items"]
    assert item["amount_cents"] == ESTIMATE
    path = f"/payments/failed-refunds/{item['id']}/resolution"
    done = await c.api.post(path, json={"action": "refunded_elsewhere", "note": "check 1042"},
                            headers=ops)  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["true_up_status"] == "refunded"
    assert await c.db.fetchval(status, true_up_id) == "refunded"
    await _balanced(c.db)
