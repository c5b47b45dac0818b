"""Card on file and the webhook receiver against the Stripe simulator: the setup's consent,
the card saved by setup_intent.succeeded, bad signatures refused with nothing kept, replayed
and reordered events changing nothing the second time, a charge reconciled by webhook."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import stripe

from schemas.payments import CONSENT_TEXT, CONSENT_VERSION
from services.core import clock
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger import service as ledger
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from tests.payments import world as w
from tests.therapy_sessions.completion import arrange

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def _counts(db: asyncpg.Connection) -> tuple[int, int]:
    events = await db.fetchval("SELECT count(*) FROM stripe_events")
    jobs = await db.fetchval("SELECT count(*) FROM outbox WHERE job = 'handle_stripe_event'")
    return events, jobs


async def test_setup_and_its_webhook_put_a_default_card_on_file(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: object,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    me = token(visit.client)  # type: ignore[operator]
    url = f"/clients/{visit.client.client_id}"
    response = await api.post(f"{url}/payment-setup", headers=me)
    assert response.status_code == 201, response.text
    setup = response.json()
    assert (setup["consent_text"], setup["consent_version"]) == (CONSENT_TEXT, CONSENT_VERSION)
    assert "explanation of benefits" in setup["consent_text"]
    stored = await db.fetchrow(
        "SELECT consent_version, consented_at, succeeded_at FROM payment_setups"
    )
    assert (stored["consent_version"], stored["consented_at"]) == (CONSENT_VERSION, clock.now())
    assert stored["succeeded_at"] is None
    assert (await api.get(f"{url}/payment-methods", headers=me)).json() == {"items": []}

    first = w.confirm_card(stripe_client, setup["client_secret"])
    body = w.event("setup_intent.succeeded", first)
    secret = settings.stripe_webhook_secret
    assert (await w.deliver(api, body, secret)).json() == {"received": True, "duplicate": False}
    assert await w.run_events(db, tx, gateway) == ["card saved"]
    cards = (await api.get(f"{url}/payment-methods", headers=me)).json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4242", True)]

    # A replay of the same event: acknowledged, nothing stored or queued again.
    assert (await w.deliver(api, body, secret)).json() == {"received": True, "duplicate": True}
    assert await _counts(db) == (1, 1)
    assert await w.run_events(db, tx, gateway) == []

    # A second card becomes the default; its event handled twice (a new delivery id) is no
    # different, and the older card's event arriving late does not take the default back.
    second_setup = await api.post(f"{url}/payment-setup", headers=me)
    second = w.confirm_card(stripe_client, second_setup.json()["client_secret"], "5555555555554444")
    for event_body in (w.event("setup_intent.succeeded", second),
                       w.event("setup_intent.succeeded", second),
                       w.event("setup_intent.succeeded", first)):  # fmt: skip
        assert (await w.deliver(api, event_body, secret)).status_code == 200
    assert await w.run_events(db, tx, gateway) == ["card saved"] * 3
    cards = (await api.get(f"{url}/payment-methods", headers=me)).json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4444", True), ("4242", False)]
    # Both setups used the client's one Stripe customer.
    assert await db.fetchval("SELECT count(*) FROM stripe_customers") == 1
    assert len(stripe_client.v1.customers.list().data) == 1

    # Removed: detached at Stripe, the other card is the default again.
    removed = await api.delete(f"{url}/payment-methods/{cards[0]['id']}", headers=me)
    assert removed.status_code == 204, removed.text
    assert stripe_client.v1.payment_methods.retrieve(cards[0]["id"]).customer is None
    cards = (await api.get(f"{url}/payment-methods", headers=me)).json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4242", True)]


async def test_a_setup_after_stripe_forgot_the_customer_makes_a_new_one(
    charging: w.Charging,
) -> None:
    """A dev restart (an empty Stripe over the same database): the next setup forgets the
    customer Stripe refuses, with its cards, and saves the card on a new customer."""
    c = charging
    visit = await arrange(c.db, c.settings, insured=False)
    url, me = f"/clients/{visit.client.client_id}", c.token(visit.client)
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    lost, attempt = await c.db.fetchrow("SELECT stripe_customer_id, attempt FROM stripe_customers")
    assert (await c.admin.post("/_admin/reset")).status_code == 200  # the restart

    response = await c.api.post(f"{url}/payment-setup", headers=me)
    assert response.status_code == 201, response.text
    made, now_attempt = await c.db.fetchrow(
        "SELECT stripe_customer_id, attempt FROM stripe_customers"
    )  # fmt: skip
    assert made not in (None, lost)
    assert now_attempt == attempt + 1  # the new customer under customer-{client}-a{n+1}
    assert [x.id for x in c.sdk.v1.customers.list().data] == [made]
    assert (await c.api.get(f"{url}/payment-methods", headers=me)).json() == {"items": []}
    intent_id = w.confirm_card(c.sdk, response.json()["client_secret"], "5555555555554444")
    assert c.sdk.v1.setup_intents.retrieve(intent_id).customer == made
    delivered = await w.deliver(c.api, w.event("setup_intent.succeeded", intent_id),
                                c.settings.stripe_webhook_secret)  # fmt: skip
    assert delivered.status_code == 200, delivered.text
    assert await w.run_events(c.db, c.tx, c.gateway) == ["card saved"]
    cards = (await c.api.get(f"{url}/payment-methods", headers=me)).json()["items"]
    assert [(x["last4"], x["is_default"]) for x in cards] == [("4444", True)]
    # Healed: the next setup reuses the new customer.
    again = await c.api.post(f"{url}/payment-setup", headers=me)
    assert again.status_code == 201, again.text
    assert await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers") == made
    assert len(c.sdk.v1.customers.list().data) == 1


async def test_a_bad_or_stale_signature_is_refused_and_nothing_kept(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings
) -> None:
    body = w.event("payment_intent.succeeded", "pi_123")
    now = int(clock.now().timestamp())
    refused = [
        w.signed(body, "whsec_someone_else_0123"),
        w.signed(body, settings.stripe_webhook_secret, at=now - 301),
        w.signed(body, settings.stripe_webhook_secret, at=now + 301),
        {"Stripe-Signature": "t=abc,v1=00", "Content-Type": "application/json"},
        {"Content-Type": "application/json"},
    ]
    for headers in refused:
        response = await api.post("/webhooks/stripe", content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "bad_signature"
    tampered = body.replace(b"pi_123", b"pi_999")
    headers = w.signed(body, settings.stripe_webhook_secret)
    assert (
        await api.post("/webhooks/stripe", content=tampered, headers=headers)
    ).status_code == 400
    assert await _counts(db) == (0, 0)
    ok = w.signed(body, settings.stripe_webhook_secret, at=now - 299)
    assert (await api.post("/webhooks/stripe", content=body, headers=ok)).status_code == 200


async def test_reordered_and_replayed_intent_events_record_a_lost_outcome_once(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed()
    await c.fault(w.LOSE_THE_ANSWER)
    (outbox_id,) = await w.open_outbox(c.db, "charge_client")
    assert await charge_client(c.tx, c.gateway, outbox_id) == "unknown"
    (intent,) = await c.intents()
    # The failure's event arrives first, then the success's, then both again.
    secret = c.settings.stripe_webhook_secret
    bodies = [w.event("payment_intent.payment_failed", intent.id),
              w.event("payment_intent.succeeded", intent.id)]  # fmt: skip
    for body in bodies:
        assert (await w.deliver(c.api, body, secret)).json()["duplicate"] is False
    assert await w.run_events(c.db, c.tx, c.gateway) == ["succeeded", "already recorded"]
    for body in bodies:
        assert (await w.deliver(c.api, body, secret)).json()["duplicate"] is True
    assert await w.run_events(c.db, c.tx, c.gateway) == []
    assert await charge_client(c.tx, c.gateway, outbox_id) == "done before"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["payment_intent_id"]) == ("succeeded", intent.id)
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert (await ledger.get_trial_balance(c.db)).imbalance_cents == 0
    assert len(await c.intents()) == 1


async def test_a_decline_whose_answer_was_lost_arrives_by_webhook(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(w.DECLINES_WHEN_CHARGED)
    await c.fault(w.LOSE_THE_ANSWER)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["unknown"]
    (intent,) = await c.intents()
    assert intent.status == "requires_payment_method"
    body = w.event("payment_intent.payment_failed", intent.id)
    await w.deliver(c.api, body, c.settings.stripe_webhook_secret)
    assert await w.run_events(c.db, c.tx, c.gateway) == ["failed"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["decline_code"]) == ("failed", "generic_decline")
    # The charge's own job, back after its retry delay, finds it done.
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["done before"]
    assert (await ledger.get_trial_balance(c.db)).imbalance_cents == 0
