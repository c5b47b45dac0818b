"""Failed-payment recovery against the Stripe simulator, the test's clock moved by hand: soft
declines retried on the same PaymentIntent on the schedule, hard ones never; the card's
15-in-30-days cap; an unknown retry outcome looked up before anything else; the client paying
on-session with another card, recorded once (webhook or GET); no-card balances charged once a
card is saved; the write-off once, and reinstated when the client pays after it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from schemas.ledger import AccountRef, EntryIn, Line
from services.core import clock
from services.core.settings import SettingsError, load_settings
from services.ledger import service as ledger
from services.payments.recovery import classify
from tests.payments import recovery_world as r
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

AMOUNT = 19000  # tests/therapy_sessions/completion.py PRICES, self-pay 90837
DAY = timedelta(days=1)
UNKNOWN_RETRY = timedelta(seconds=10)  # charges.RETRY_UNKNOWN has passed


async def _balanced(db: asyncpg.Connection) -> None:
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def _owes(db: asyncpg.Connection, client_id: uuid.UUID) -> int:
    balances = await ledger.list_owner_balances(db, client_id)
    return sum(b.balance_cents for b in balances if b.kind == "client_receivable")


async def _bad_debt(db: asyncpg.Connection) -> int:
    return (await ledger.get_account_balance(db, AccountRef(kind="bad_debt"))).balance_cents


def test_the_decline_classes() -> None:
    assert classify("card_declined", "insufficient_funds") == "soft"
    assert classify("card_declined", "try_again_later") == "soft"
    assert classify("card_declined", "generic_decline") == "soft"
    for hard in ("stolen_card", "lost_card", "fraudulent", "expired_card", "pickup_card",
                 "incorrect_number", "a_code_stripe_adds_later"):  # fmt: skip
        assert classify("card_declined", hard) == "hard"
    assert classify("authentication_required", "authentication_required") == "authentication"
    assert classify("card_declined", "authentication_required") == "authentication"
    assert classify("no_card_on_file", None) == "no_card"
    assert classify("amount_too_small", None) == "hard"


async def test_a_soft_decline_is_retried_on_the_schedule_and_paid_on_day_three(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    assert await r.retries(c) == []  # nothing before day 1
    assert await r.due(c.db, "write_off_charge") == []
    clock.CLOCK.advance(DAY)
    await c.fault(r.decline("insufficient_funds"))
    assert await r.retries(c) == ["retry declined"]
    assert await r.retries(c) == []  # the next one is on day 3
    clock.CLOCK.advance(2 * DAY)
    assert await r.retries(c) == ["succeeded"]
    (after,) = await w.charges_of(c.db, charge["visit"].session.id)
    assert after["status"] == "succeeded"
    assert after["payment_intent_id"] == charge["payment_intent_id"]
    # One intent at Stripe, confirmed three times (the first charge and two retries).
    (intent,) = await c.intents()
    assert (intent.id, intent.status) == (charge["payment_intent_id"], "succeeded")
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined"), (1, "declined"),
                                                     (2, "succeeded")]  # fmt: skip
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await _owes(c.db, charge["client_id"]) == 0
    clock.CLOCK.advance(5 * DAY)  # day 7's retry was never scheduled
    assert await r.retries(c) == []
    await _balanced(c.db)


async def test_the_last_soft_retry_declined_writes_the_charge_off_once(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "generic_decline", w.DECLINES_WHEN_CHARGED)
    assert await r.follow_ups(c) == ["soft decline"]
    outcomes = []
    for days in (1, 2, 4):  # days 1, 3 and 7 after the failure
        clock.CLOCK.advance(days * DAY)
        outcomes += await r.retries(c)
    assert outcomes == ["retry declined", "retry declined", "retries exhausted, written off"]
    # Told at the failure, and when nothing more would be tried.
    assert await r.open_jobs(c.db, "send_charge_notice") == 2
    assert await r.entries(c.db, charge["id"]) == [("bad_debt", "bad_debt")]
    assert await _owes(c.db, charge["client_id"]) == 0
    assert await _bad_debt(c.db) == AMOUNT
    clock.CLOCK.advance(60 * DAY)
    assert await r.retries(c) == []
    assert await r.write_offs(c) == []  # a soft decline's write-off is its last retry
    await _balanced(c.db)


async def test_a_hard_decline_is_never_retried_and_written_off_after_sixty_days(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "stolen_card")
    assert await r.follow_ups(c) == ["hard decline"]
    for _ in range(8):
        clock.CLOCK.advance(DAY)
        assert await r.retries(c) == []
    assert await r.open_jobs(c.db, "retry_charge") == 0
    assert await r.write_offs(c) == []  # not before day 60
    clock.CLOCK.advance(52 * DAY)
    assert await r.write_offs(c) == ["written off"]
    assert await r.write_offs(c) == []
    assert await r.entries(c.db, charge["id"]) == [("bad_debt", "bad_debt")]
    assert await _bad_debt(c.db) == AMOUNT
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined")]
    assert await r.open_jobs(c.db, "send_charge_notice") == 1
    (intent,) = await c.intents()
    assert intent.status == "requires_payment_method"
    await _balanced(c.db)


async def test_no_more_than_fifteen_attempts_on_a_card_in_thirty_days(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    method = await c.db.fetchval(
        "SELECT payment_method_id FROM client_charges WHERE id = $1", charge["id"]
    )
    # Fourteen earlier declined attempts on the same card (with the first charge's: 15).
    now = clock.now()
    for n in range(1, 15):
        await c.db.execute(
            """
            INSERT INTO charge_attempts (charge_id, client_id, payment_method_id, retry, status,
                                         attempted_at, updated_at)
            VALUES ($1, $2, $3, $4, 'declined', $5, $5)
            """,
            charge["id"], charge["client_id"], method, 80 + n, now - timedelta(days=n),
        )  # fmt: skip
    clock.CLOCK.advance(DAY)
    before = await _latest_charge(c, charge["payment_intent_id"])
    assert await r.retries(c) == ["capped"]
    assert await _latest_charge(c, charge["payment_intent_id"]) == before  # no confirm sent
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined")] + [
        (80 + n, "declined") for n in range(1, 15)
    ]
    # It waits until the oldest of the fifteen leaves the 30-day window (16 days from now).
    available = await c.db.fetchval(
        "SELECT available_at FROM outbox WHERE job = 'retry_charge' AND completed_at IS NULL"
    )
    assert available == now - timedelta(days=14) + timedelta(days=30)
    clock.CLOCK.advance(14 * DAY)
    assert await r.retries(c) == []
    clock.CLOCK.advance(DAY)
    assert await r.retries(c) == ["succeeded"]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    await _balanced(c.db)


async def _latest_charge(c: w.Charging, intent_id: str) -> str:
    return str(c.sdk.v1.payment_intents.retrieve(intent_id).latest_charge)


async def test_a_retry_whose_answer_was_lost_looks_the_intent_up_and_charges_once(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "try_again_later")
    assert await r.follow_ups(c) == ["soft decline"]
    clock.CLOCK.advance(DAY)
    await c.fault(w.LOSE_THE_ANSWER)  # the confirm is made at Stripe, its answer lost
    assert await r.retries(c) == ["unknown"]
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined"), (1, "submitting")]
    clock.CLOCK.advance(UNKNOWN_RETRY)
    # The next run re-reads the intent (paid) and records it: no second confirm.
    assert await r.retries(c) == ["succeeded"]
    (intent,) = await c.intents()
    assert intent.status == "succeeded"
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined"), (1, "succeeded")]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await r.retries(c) == []
    await _balanced(c.db)


async def test_a_lost_declined_retry_is_counted_not_sent_again(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "generic_decline", w.DECLINES_WHEN_CHARGED)
    assert await r.follow_ups(c) == ["soft decline"]
    clock.CLOCK.advance(DAY)
    await c.fault(w.LOSE_THE_ANSWER)
    assert await r.retries(c) == ["unknown"]
    before = await _latest_charge(c, charge["payment_intent_id"])
    clock.CLOCK.advance(UNKNOWN_RETRY)
    # The intent's latest charge is not the one seen before the confirm: it was declined.
    assert await r.retries(c) == ["retry declined"]
    assert await _latest_charge(c, charge["payment_intent_id"]) == before
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined"), (1, "declined")]


async def test_the_client_pays_with_another_card_once(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "generic_decline", w.DECLINES_WHEN_CHARGED)
    assert await r.follow_ups(c) == ["soft decline"]
    visit = charge["visit"]
    url = f"/client-charges/{charge['id']}/payment"
    response = await c.api.post(url, headers=c.token(visit.client))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["payment_intent_id"], body["amount_cents"], body["charge_status"]) == (
        charge["payment_intent_id"], AMOUNT, "failed",
    )  # fmt: skip
    assert body["intent_status"] == "requires_payment_method"
    assert body["client_secret"].startswith(charge["payment_intent_id"])
    # A repeat answers the same intent.
    again = await c.api.post(url, headers=c.token(visit.client))
    assert again.json()["client_secret"] == body["client_secret"]
    # Stripe.js confirms the same intent with a new card the client types in.
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(charge["payment_intent_id"],
                                     params={"payment_method": method.id})  # fmt: skip
    # The webhook is lost: the page's GET re-reads the intent and records the capture.
    got = await c.api.get(url, headers=c.token(visit.client))
    assert got.status_code == 200, got.text
    assert (got.json()["charge_status"], got.json()["client_secret"]) == ("succeeded", None)
    secret = c.settings.stripe_webhook_secret
    for _ in range(2):  # then it arrives, twice
        body_ = w.event("payment_intent.succeeded", charge["payment_intent_id"])
        assert (await w.deliver(c.api, body_, secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["already recorded"] * 2
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert [pi.id for pi in await c.intents()] == [charge["payment_intent_id"]]
    assert await _owes(c.db, visit.client.client_id) == 0
    # The retry scheduled for day 1 finds it paid and charges nothing.
    clock.CLOCK.advance(DAY)
    assert await r.retries(c) == ["nothing to retry"]
    paid = await c.api.post(url, headers=c.token(visit.client))
    assert paid.status_code == 409, paid.text
    await _balanced(c.db)


async def test_a_webhook_records_an_on_session_payment_once(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "expired_card")
    assert await r.follow_ups(c) == ["hard decline"]
    visit = charge["visit"]
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(charge["payment_intent_id"],
                                     params={"payment_method": method.id})  # fmt: skip
    body = w.event("payment_intent.succeeded", charge["payment_intent_id"])
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["succeeded"]
    got = await c.api.get(f"/client-charges/{charge['id']}/payment", headers=c.token(visit.ops))
    assert got.json()["charge_status"] == "succeeded"
    assert await w.captured_entries(c.db, charge["id"]) == 1
    clock.CLOCK.advance(60 * DAY)
    assert await r.write_offs(c) == ["paid or in flight"]
    assert await r.entries(c.db, charge["id"]) == [("card_captured", "card_captured")]
    await _balanced(c.db)


async def test_paying_after_the_write_off_reinstates_it_once(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "lost_card")
    assert await r.follow_ups(c) == ["hard decline"]
    clock.CLOCK.advance(60 * DAY)
    assert await r.write_offs(c) == ["written off"]
    visit = charge["visit"]
    # The client saved a new card: they pay with it on the server, on-session.
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    method = await c.db.fetchval(
        "SELECT id FROM payment_methods WHERE client_id = $1 AND is_default",
        visit.client.client_id,
    )
    url = f"/client-charges/{charge['id']}/payment"
    headers = {**c.token(visit.client), "Idempotency-Key": "pay-once"}
    response = await c.api.post(url, json={"payment_method_id": method}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["charge_status"] == "succeeded"
    assert await r.entries(c.db, charge["id"]) == [
        ("bad_debt", "bad_debt"), ("card_captured", "card_captured"),
        ("bad_debt", "bad_debt_reinstated"),
    ]  # fmt: skip
    assert await _bad_debt(c.db) == 0
    assert await _owes(c.db, visit.client.client_id) == 0
    assert (
        await c.db.fetchval(
            "SELECT status FROM charge_recoveries WHERE charge_id = $1", charge["id"]
        )
        == "paid"
    )
    body = w.event("payment_intent.succeeded", charge["payment_intent_id"])
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["already recorded"]
    await _balanced(c.db)


async def test_a_saved_card_charges_the_no_card_balance_due_once(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(None)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["balance_due"]
    assert await r.follow_ups(c) == ["balance due"]
    assert await r.open_jobs(c.db, "write_off_charge") == 1
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"]) == ("succeeded", 1)
    assert len(await c.intents()) == 1
    # The same card's setup event again changes nothing.
    assert await w.run_charges(c.db, c.tx, c.gateway) == []
    clock.CLOCK.advance(60 * DAY)
    assert await r.write_offs(c) == ["paid or in flight"]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    await _balanced(c.db)


async def test_a_balance_due_without_an_intent_gets_one_to_pay_on_session(
    charging: w.Charging,
) -> None:
    c = charging
    visit = await c.completed(None)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["balance_due"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    url = f"/client-charges/{charge['id']}/payment"
    first = await c.api.post(url, headers=c.token(visit.client))
    assert first.status_code == 200, first.text
    second = await c.api.post(url, headers=c.token(visit.client))
    assert first.json()["payment_intent_id"] == second.json()["payment_intent_id"]
    intent_id = first.json()["payment_intent_id"]
    (intent,) = c.sdk.v1.payment_intents.list(params={"limit": 100}).data
    assert (intent.id, intent.amount, intent.metadata["hearth_charge_id"]) == (
        intent_id, AMOUNT, str(charge["id"]),
    )  # fmt: skip
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(intent_id, params={"payment_method": method.id})
    got = await c.api.get(url, headers=c.token(visit.client))
    assert got.json()["charge_status"] == "succeeded"
    assert await w.captured_entries(c.db, charge["id"]) == 1
    await _balanced(c.db)


def test_the_schedule_comes_from_settings() -> None:
    base = {"HEARTH_ENV": "test"}
    assert load_settings(base).retry_days == (1, 3, 7)
    assert load_settings({**base, "HEARTH_PAYMENT_RETRY_DAYS": "5,2"}).retry_days == (2, 5)
    assert load_settings(base).bad_debt_after_days == 60
    with pytest.raises(SettingsError, match="HEARTH_PAYMENT_RETRY_DAYS"):
        load_settings({**base, "HEARTH_PAYMENT_RETRY_DAYS": "1;3"})
    with pytest.raises(SettingsError, match="HEARTH_PAYMENT_RETRY_CAP"):
        load_settings({**base, "HEARTH_PAYMENT_RETRY_CAP": "16"})


async def test_a_removed_card_is_not_retried(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    visit = charge["visit"]
    method = await c.db.fetchval(
        "SELECT payment_method_id FROM client_charges WHERE id = $1", charge["id"]
    )
    url = f"/clients/{visit.client.client_id}/payment-methods/{method}"
    assert (await c.api.delete(url, headers=c.token(visit.client))).status_code == 204
    before = await _latest_charge(c, charge["payment_intent_id"])
    clock.CLOCK.advance(DAY)
    assert await r.retries(c) == ["card removed"]
    assert await _latest_charge(c, charge["payment_intent_id"]) == before
    assert await r.open_jobs(c.db, "retry_charge") == 0
    assert await r.open_jobs(c.db, "write_off_charge") == 1


async def _credit(db: asyncpg.Connection, client_id: uuid.UUID, cents: int) -> None:
    """The client is owed `cents`: a refund the card returned (Dr stripe_balance, Cr
    client_receivable), as true_ups.py books one."""
    await ledger.post_entry(db, EntryIn(
        kind="refund_failed", idempotency_key=f"refund_failed-{uuid.uuid4()}",
        source_table="client_refunds", source_id=uuid.uuid4(),
        lines=(Line(account=AccountRef(kind="stripe_balance"), side="debit", amount_cents=cents),
               Line(account=AccountRef(kind="client_receivable", owner_id=client_id),
                    side="credit", amount_cents=cents)),
        memo="refund failed at the card", occurred_at=clock.now(),
    ))  # fmt: skip


async def test_a_credit_settles_part_of_a_failed_charge_and_only_the_rest_is_charged(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    await _credit(c.db, charge["client_id"], 5000)
    clock.CLOCK.advance(DAY)
    assert await r.retries(c) == ["credit applied, the rest charged anew"]
    # The declined intent is not confirmed again: its amount is frozen. The rest is a new
    # charge (its own intent), charged off-session.
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined")]
    (rest,) = await w.charges_of(c.db, charge["id"])
    assert (rest["status"], rest["amount_cents"]) == ("pending", AMOUNT - 5000)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    assert sorted(pi.amount for pi in await c.intents()) == [AMOUNT - 5000, AMOUNT]
    credited = await c.db.fetchrow(
        "SELECT ch.credit_applied_cents, cr.status FROM client_charges ch"
        " JOIN charge_recoveries cr ON cr.charge_id = ch.id WHERE ch.id = $1",
        charge["id"],
    )
    assert tuple(credited) == (5000, "paid")
    assert await _owes(c.db, charge["client_id"]) == 0
    # No later retry, nor the client's pay route, charges the first one again.
    clock.CLOCK.advance(10 * DAY)
    assert await r.retries(c) == []
    paying = await c.api.post(f"/client-charges/{charge['id']}/payment",
                              headers=c.token(charge["visit"].client))  # fmt: skip
    assert paying.status_code == 409, paying.text
    await _balanced(c.db)


async def test_a_credit_covering_a_failed_charge_settles_it_with_no_charge(
    charging: w.Charging,
) -> None:
    c = charging
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    await _credit(c.db, charge["client_id"], AMOUNT + 1000)
    clock.CLOCK.advance(DAY)
    assert await r.retries(c) == ["credit applied"]
    assert await w.charges_of(c.db, charge["id"]) == []
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined")]
    assert await _owes(c.db, charge["client_id"]) == -1000  # the credit left
    clock.CLOCK.advance(60 * DAY)
    assert await r.write_offs(c) == []
    assert await _bad_debt(c.db) == 0
    await _balanced(c.db)


async def test_a_credit_is_applied_before_a_write_off(charging: w.Charging) -> None:
    c = charging
    charge = await r.declined(c, "lost_card")
    assert await r.follow_ups(c) == ["hard decline"]
    await _credit(c.db, charge["client_id"], 4000)
    clock.CLOCK.advance(60 * DAY)
    assert await r.write_offs(c) == ["written off"]
    assert await _bad_debt(c.db) == AMOUNT - 4000
    assert await _owes(c.db, charge["client_id"]) == 0
    await _balanced(c.db)
