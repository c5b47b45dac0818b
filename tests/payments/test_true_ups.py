"""True-ups from remittance charged or refunded through the Stripe simulator (issue 17 item 5):
a true-up charge once (also after a timeout and a rerun), a refund once and never beyond the
completion charge, a refund of a charge that failed reduces the balance due with no Stripe
call; the ledger balances after each step and the true-up's status ends right."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from services.claims import reprice
from services.claims import service as claims
from services.core.auth import Actor
from services.ledger import service as ledger
from services.payments import service, statements
from services.payments.charges import charge_client
from services.payments.true_ups import refund_client, settle_true_up_on
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.payments import world as w
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import Billed, balance, bill

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

ESTIMATE = 2000  # tests/remittance/billed.py: the estimated client share
OWES_MORE = 7000  # fixtures.PARTLY_PAID: the 835's share is $90.00
DENIED_BPR = "BPR*H*0*C*NON************20261204~\n"
LOSE_THE_REFUND = {"kind": "timeout", "path_prefix": "/v1/refunds", "method": "POST",
                   "count": 1, "delay_s": 0.5, "after": True}  # fmt: skip


@dataclass
class Claimed:
    billed: Billed
    ops: Actor
    completion: dict[str, Any]


async def _balanced(db: asyncpg.Connection) -> None:
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def _billed_and_charged(
    c: w.Charging, number: str = w.VISA, charged: int = ESTIMATE
) -> Claimed:
    """A billed claim whose client saved a card (`number`), and the completion charge of
    `charged` cents run through the charge job."""
    billed = await bill(c.db, (await make_payer(c.db)).id, await make_provider_actor(c.db))
    ops = await make_ops(c.db)
    setup = await service.start_payment_setup(c.tx, c.gateway, ops, billed.client_id)
    body = w.event("setup_intent.succeeded", w.confirm_card(c.sdk, setup.client_secret, number))
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["card saved"]
    session_id = await c.db.fetchval(
        "SELECT therapy_session_id FROM claims WHERE id = $1", billed.claim_id
    )
    await service.add_completion_charge(c.db, billed.client_id, session_id, charged)
    await w.run_charges(c.db, c.tx, c.gateway)
    (completion,) = await w.charges_of(c.db, session_id)
    return Claimed(billed, ops, completion)


async def _denied(c: w.Charging, claimed: Claimed) -> Claimed:
    """The payer denies the claim: the client is owed the whole estimate back."""
    body = f.transaction(t.ours(f.DENIED, claimed.billed, "6"), bpr=DENIED_BPR)
    await t.post(c.db, claimed.ops, body)
    return claimed


async def _settle(db: asyncpg.Connection) -> list[str]:
    return [await settle_true_up_on(db, row["id"]) for row in await t.settle_rows(db)]


async def _true_up(db: asyncpg.Connection, billed: Billed) -> dict[str, Any]:
    (row,) = await t.true_ups(db, billed)
    return row


async def _refunds(db: asyncpg.Connection, true_up_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, charge_id, amount_cents, status, attempt, stripe_refund_id"
        " FROM client_refunds WHERE true_up_id = $1",
        true_up_id,
    )
    return [dict(r) for r in rows]


async def test_a_true_up_is_charged_once_after_a_timeout_and_a_rerun(
    charging: w.Charging,
) -> None:
    c = charging
    claimed = await _billed_and_charged(c)
    assert claimed.completion["status"] == "succeeded"
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    assert await _settle(c.db) == ["charging"]
    true_up = await _true_up(c.db, claimed.billed)
    assert true_up["status"] == "ready"  # until the charge's outcome is known
    (charge,) = await w.charges_of(c.db, true_up["id"])
    assert (charge["status"], charge["amount_cents"]) == ("pending", OWES_MORE)
    await c.fault(w.LOSE_THE_ANSWER)  # Stripe makes the intent, and the answer is lost
    (outbox_id,) = await w.open_outbox(c.db, "charge_client")
    assert await charge_client(c.tx, c.gateway, outbox_id) == "unknown"
    assert (await _true_up(c.db, claimed.billed))["status"] == "ready"
    await _balanced(c.db)
    assert await charge_client(c.tx, c.gateway, outbox_id) == "succeeded"
    assert await charge_client(c.tx, c.gateway, outbox_id) == "done before"
    (charge,) = await w.charges_of(c.db, true_up["id"])
    assert (charge["status"], charge["attempt"]) == ("succeeded", 1)
    intents = await c.intents()
    assert sorted(pi.amount for pi in intents) == [ESTIMATE, OWES_MORE]
    true_up_intents = [pi for pi in intents if pi.metadata["hearth_kind"] == "true_up"]
    assert [pi.id for pi in true_up_intents] == [charge["payment_intent_id"]]
    assert true_up_intents[0].metadata["hearth_source_id"] == str(true_up["id"])
    assert await w.captured_entries(c.db, charge["id"]) == 1
    settled = await _true_up(c.db, claimed.billed)
    assert (settled["status"], settled["settled_at"] is not None) == ("charged", True)
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)
    assert await _settle(c.db) == []  # nothing queued twice


async def test_a_declined_true_up_charge_is_a_balance_due(charging: w.Charging) -> None:
    c = charging
    claimed = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    assert claimed.completion["status"] == "failed"
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    assert await _settle(c.db) == ["charging"]
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    assert (await _true_up(c.db, claimed.billed))["status"] == "balance_due"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == (
        ESTIMATE + OWES_MORE
    )
    await _balanced(c.db)


async def test_a_true_up_balance_due_paid_on_session_is_charged_once(
    charging: w.Charging,
) -> None:
    c = charging
    claimed = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    assert await _settle(c.db) == ["charging"]
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    true_up = await _true_up(c.db, claimed.billed)
    assert true_up["status"] == "balance_due"
    (charge,) = await w.charges_of(c.db, true_up["id"])
    # The client confirms the declined intent on-session with another card; the page's GET
    # records the capture, the webhook then finds it recorded.
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_intents.confirm(charge["payment_intent_id"],
                                     params={"payment_method": method.id})  # fmt: skip
    url = f"/client-charges/{charge['id']}/payment"
    got = await c.api.get(url, headers=c.token(claimed.ops))
    assert got.json()["charge_status"] == "succeeded", got.text
    body = w.event("payment_intent.succeeded", charge["payment_intent_id"])
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["already recorded"]
    settled = await _true_up(c.db, claimed.billed)
    assert settled["status"] == "charged"
    assert settled["settled_at"] >= true_up["settled_at"]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    # Only the declined completion charge is left owing.
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == ESTIMATE
    await _balanced(c.db)


async def _owed_with_no_card(c: w.Charging) -> tuple[Billed, Actor, dict[str, Any]]:
    """A true-up owed by a client with no card on file, settled: the claim, ops, its charge."""
    billed = await bill(c.db, (await make_payer(c.db)).id, await make_provider_actor(c.db))
    ops = await make_ops(c.db)
    await t.post(c.db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    assert await _settle(c.db) == ["balance_due"]
    true_up = await _true_up(c.db, billed)
    assert true_up["status"] == "balance_due"
    (charge,) = await w.charges_of(c.db, true_up["id"])
    assert (charge["status"], charge["amount_cents"], charge["failure_code"]) == (
        "balance_due", OWES_MORE, "no_card_on_file",
    )  # fmt: skip
    assert len(await w.open_outbox(c.db, "follow_up_charge")) == 1  # as for any no-card charge
    return billed, ops, charge


async def test_a_true_up_owed_with_no_card_is_a_balance_due_charge_the_client_can_pay(
    charging: w.Charging,
) -> None:
    c = charging
    _, ops, charge = await _owed_with_no_card(c)
    url = f"/client-charges/{charge['id']}/payment"
    paying = await c.api.post(url, headers=c.token(ops))
    assert paying.status_code == 200, paying.text
    assert (paying.json()["amount_cents"], paying.json()["charge_status"]) == (
        OWES_MORE, "balance_due",
    )  # fmt: skip
    assert paying.json()["client_secret"]
    await _balanced(c.db)


async def test_a_true_up_owed_with_no_card_is_charged_once_a_card_is_saved(
    charging: w.Charging,
) -> None:
    c = charging
    billed, ops, charge = await _owed_with_no_card(c)
    setup = await service.start_payment_setup(c.tx, c.gateway, ops, billed.client_id)
    body = w.event("setup_intent.succeeded", w.confirm_card(c.sdk, setup.client_secret))
    assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["card saved"]
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    assert (await _true_up(c.db, billed))["status"] == "charged"
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await balance(c.db, "client_receivable", billed.client_id) == ESTIMATE
    await _balanced(c.db)


async def test_a_true_up_under_the_stripe_minimum_is_a_balance_due_charge(
    charging: w.Charging,
) -> None:
    c = charging
    billed = await bill(c.db, (await make_payer(c.db)).id, await make_provider_actor(c.db))
    ops = await make_ops(c.db)  # the client has no card on file either
    # PR-3 $20.30: 30 cents more than the $20.00 estimate.
    small = (
        t.CORRECTION_OF_PARTLY_PAID.replace("*150*110*10*", "*150*99.7*20.3*")
        .replace("SVC*HC:90834*150*110**1~", "SVC*HC:90834*150*99.7**1~")
        .replace("CAS*PR*3*10~", "CAS*PR*3*20.3~")
    )
    await t.post(c.db, ops, f.transaction(t.ours(small, billed, "2"), paid="99.7"))
    assert await _settle(c.db) == ["balance_due"]
    true_up = await _true_up(c.db, billed)
    (charge,) = await w.charges_of(c.db, true_up["id"])
    assert (charge["status"], charge["amount_cents"], charge["failure_code"]) == (
        "balance_due", 30, "below_stripe_minimum",
    )  # fmt: skip
    paying = await c.api.post(f"/client-charges/{charge['id']}/payment", headers=c.token(ops))
    assert paying.status_code == 409, paying.text  # alone it is under Stripe's minimum
    await _balanced(c.db)


async def test_a_voided_claims_reversal_refunds_the_true_up_charge_it_takes_back(
    charging: w.Charging,
) -> None:
    c = charging
    claimed = await _billed_and_charged(c)
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    assert await _settle(c.db) == ["charging"]
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    original = await _true_up(c.db, claimed.billed)
    (charged,) = await w.charges_of(c.db, original["id"])
    await c.db.execute("UPDATE claims SET status = 'voided' WHERE id = $1", claimed.billed.claim_id)
    reversal = t.ours(t.REVERSAL_OF_PARTLY_PAID, claimed.billed, "2")
    await t.post(c.db, claimed.ops, f.transaction(reversal, trace="EFT0002", bpr=t.debit(30)),
                 control=102)  # fmt: skip
    assert await _settle(c.db) == ["refunding"]
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refunded"]
    final = (await t.true_ups(c.db, claimed.billed))[1]
    (refund,) = await _refunds(c.db, final["id"])
    assert (refund["charge_id"], refund["amount_cents"]) == (charged["id"], OWES_MORE)
    assert final["status"] == "refunded"
    assert (await _true_up_of(c.db, original["id"]))["status"] == "charged"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)


async def test_a_voided_session_nets_its_835_to_nothing_and_leaves_the_estimate_a_credit(
    charging: w.Charging,
) -> None:
    """The demo's case: the completion charged, the claim voided (our frequency 8, accepted),
    then one 835 with the original adjudication and its reversal."""
    c = charging
    claimed = await _billed_and_charged(c)
    session_id = await c.db.fetchval(
        "SELECT therapy_session_id FROM claims WHERE id = $1", claimed.billed.claim_id
    )
    claim = await claims.get_claim_of_session(c.db, session_id)
    assert claim is not None
    net = await reprice.net_effect(c.db, claim, 1)  # as corrections.void_claim books it
    await reprice.post_difference(c.db, claim, f"void-{claim.id}", "claim_voided",
                                  reprice.difference(Counter(), net), "claim voided")  # fmt: skip
    await c.db.execute("UPDATE claims SET status = 'voided' WHERE id = $1", claim.id)
    both = t.ours(f.PARTLY_PAID + t.REVERSAL_OF_PARTLY_PAID, claimed.billed, "2")
    await t.post(c.db, claimed.ops, f.transaction(both, paid="0"))
    original, reversal = await t.true_ups(c.db, claimed.billed)
    assert (original["status"], reversal["status"], reversal["amount_cents"]) == (
        "closed", "closed", 0,
    )  # fmt: skip
    assert await _settle(c.db) == []  # nothing charged, nothing refunded by the 835
    assert await w.open_outbox(c.db, "charge_client") == []
    # The void took the estimate off the receivable: the completion charge is the client's
    # credit, which settles their next balance first.
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == -ESTIMATE
    shown = await statements.get_balance(c.db, claimed.ops, claimed.billed.client_id)
    assert (shown.credit_cents, shown.owed_now_cents) == (ESTIMATE, 0)
    await _balanced(c.db)


async def _true_up_of(db: asyncpg.Connection, true_up_id: uuid.UUID) -> dict[str, Any]:
    return dict(await db.fetchrow("SELECT * FROM client_true_ups WHERE id = $1", true_up_id))


async def test_a_credit_is_refunded_once_to_the_completion_charge(charging: w.Charging) -> None:
    c = charging
    claimed = await _denied(c, await _billed_and_charged(c))
    assert await _settle(c.db) == ["refunding"]
    true_up = await _true_up(c.db, claimed.billed)
    assert (true_up["status"], true_up["amount_cents"]) == ("ready", -ESTIMATE)
    await c.fault(LOSE_THE_REFUND)  # Stripe refunds, and the answer is lost
    (outbox_id,) = await w.open_outbox(c.db, "refund_client")
    assert await refund_client(c.tx, c.gateway, outbox_id) == "unknown"
    await _balanced(c.db)
    # The rerun finds the refund among the intent's by its metadata, and refunds nothing more.
    assert await refund_client(c.tx, c.gateway, outbox_id) == "refunded"
    assert await refund_client(c.tx, c.gateway, outbox_id) == "done before"
    (refund,) = await _refunds(c.db, true_up["id"])
    assert (refund["charge_id"], refund["amount_cents"], refund["status"], refund["attempt"]) == (
        claimed.completion["id"], ESTIMATE, "succeeded", 1,
    )  # fmt: skip
    intent = claimed.completion["payment_intent_id"]
    listed = c.sdk.v1.refunds.list(params={"payment_intent": intent}).data
    assert [(r.id, r.amount) for r in listed] == [(refund["stripe_refund_id"], ESTIMATE)]
    assert await w.entries_of(c.db, "refund", refund["id"]) == 1
    assert (await _true_up(c.db, claimed.billed))["status"] == "refunded"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)


async def test_a_refund_never_goes_beyond_the_charge(charging: w.Charging) -> None:
    c = charging
    charged = 1500  # less than the $20.00 credit the denial makes
    claimed = await _denied(c, await _billed_and_charged(c, charged=charged))
    assert await _settle(c.db) == ["refunding"]
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refunded"]
    true_up = await _true_up(c.db, claimed.billed)
    (refund,) = await _refunds(c.db, true_up["id"])
    assert (refund["amount_cents"], refund["status"]) == (charged, "succeeded")
    stripe_charge = c.sdk.v1.charges.list(params={"limit": 10}).data
    assert [ch.amount_refunded for ch in stripe_charge] == [charged]
    # The $5.00 beyond the charge stays the client's credit: here it meets the $5.00 of the
    # estimate the completion charge did not take, so the client's receivable ends at zero.
    assert true_up["status"] == "credit"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)


async def test_a_credit_against_a_failed_charge_reduces_the_balance_due(
    charging: w.Charging,
) -> None:
    c = charging
    claimed = await _denied(c, await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED))
    assert claimed.completion["status"] == "failed"
    assert await _settle(c.db) == ["balance reduced (refunded)"]
    true_up = await _true_up(c.db, claimed.billed)
    (refund,) = await _refunds(c.db, true_up["id"])
    assert (refund["charge_id"], refund["amount_cents"], refund["status"]) == (
        claimed.completion["id"], ESTIMATE, "applied",
    )  # fmt: skip
    assert refund["stripe_refund_id"] is None
    assert await w.open_outbox(c.db, "refund_client") == []
    assert c.sdk.v1.refunds.list(params={"limit": 10}).data == []
    assert true_up["status"] == "refunded"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)


async def _refund_lost(c: w.Charging) -> tuple[Claimed, dict[str, Any], int]:
    """A denial's refund whose answer Stripe lost: (the claim, the refund row, its outbox)."""
    claimed = await _denied(c, await _billed_and_charged(c))
    assert await _settle(c.db) == ["refunding"]
    await c.fault(LOSE_THE_REFUND)
    (outbox_id,) = await w.open_outbox(c.db, "refund_client")
    assert await refund_client(c.tx, c.gateway, outbox_id) == "unknown"
    (refund,) = await _refunds(c.db, (await _true_up(c.db, claimed.billed))["id"])
    assert (refund["status"], refund["stripe_refund_id"]) == ("submitting", None)
    return claimed, refund, outbox_id


@pytest.mark.parametrize("kind", ["charge.refund.updated", "charge.refunded"])
async def test_a_webhook_records_the_refund_the_job_lost_once(
    charging: w.Charging, kind: str
) -> None:
    c = charging
    claimed, refund, outbox_id = await _refund_lost(c)
    intent = claimed.completion["payment_intent_id"]
    (made,) = c.sdk.v1.refunds.list(params={"payment_intent": intent}).data
    object_id = made.id if kind == "charge.refund.updated" else str(made.charge)
    body = w.event(kind, object_id)
    secret = c.settings.stripe_webhook_secret
    assert (await w.deliver(c.api, body, secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["refunded"]
    # The replay, and the job's next run, change nothing.
    assert (await w.deliver(c.api, w.event(kind, object_id), secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["nothing to change"]
    assert await refund_client(c.tx, c.gateway, outbox_id) == "done before"
    (refund,) = await _refunds(c.db, (await _true_up(c.db, claimed.billed))["id"])
    assert (refund["status"], refund["stripe_refund_id"]) == ("succeeded", made.id)
    assert await w.entries_of(c.db, "refund", refund["id"]) == 1
    assert len(c.sdk.v1.refunds.list(params={"payment_intent": intent}).data) == 1
    assert (await _true_up(c.db, claimed.billed))["status"] == "refunded"
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == 0
    await _balanced(c.db)


async def test_a_refund_that_fails_later_is_reversed_once(charging: w.Charging) -> None:
    c = charging
    claimed = await _denied(c, await _billed_and_charged(c))
    await _settle(c.db)
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refunded"]
    (refund,) = await _refunds(c.db, (await _true_up(c.db, claimed.billed))["id"])
    failed = await c.admin.post(f"/_admin/refunds/{refund['stripe_refund_id']}/fail", json={})
    assert failed.status_code == 200, failed.text
    secret = c.settings.stripe_webhook_secret
    for _ in range(2):  # delivered twice
        body = w.event("charge.refund.updated", refund["stripe_refund_id"])
        assert (await w.deliver(c.api, body, secret)).status_code == 200
    assert await w.run_events(c.db, c.tx, c.gateway) == ["refund reversed", "nothing to change"]
    (refund,) = await _refunds(c.db, (await _true_up(c.db, claimed.billed))["id"])
    assert refund["status"] == "failed"
    assert await w.entries_of(c.db, "refund_failed", refund["id"]) == 1
    # The client is owed the $20.00 again, and the true-up says so.
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == -ESTIMATE
    assert (await _true_up(c.db, claimed.billed))["status"] == "credit"
    await _balanced(c.db)
