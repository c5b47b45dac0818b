"""The ops queues of payment problems (issue 17 item 6): a refund that fails at the card lands
in the failed-refunds queue once (however many events say so) and ops close it; a capture that
does not match its charge (a second intent, another amount) is queued, never booked by itself,
and ops book it or dismiss it. The ledger balances after each step."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from services.ledger import service as ledger
from tests.factories import make_ops
from tests.payments import world as w
from tests.payments.test_true_ups import ESTIMATE, _billed_and_charged, _denied, _refunds, _settle
from tests.remittance.billed import balance

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def _balanced(db: asyncpg.Connection) -> None:
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def _deliver(c: w.Charging, kinds: list[str], object_id: str) -> list[str]:
    for kind in kinds:
        body = w.event(kind, object_id)
        assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    return await w.run_events(c.db, c.tx, c.gateway)


async def refund_failed_at_card(c: w.Charging) -> tuple[Any, uuid.UUID, dict[str, Any]]:
    """A true-up refunded whole to the card, the card then returning it at Stripe (no event
    delivered yet): the claim, the true-up's id and its refund."""
    claimed = await _denied(c, await _billed_and_charged(c))
    await _settle(c.db)
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refunded"]
    true_up_id = await c.db.fetchval("SELECT id FROM client_true_ups")
    (refund,) = await _refunds(c.db, true_up_id)
    failed = await c.admin.post(
        f"/_admin/refunds/{refund['stripe_refund_id']}/fail",
        json={"failure_reason": "expired_or_canceled_card"},
    )
    assert failed.status_code == 200, failed.text
    return claimed, true_up_id, refund


async def test_a_failed_refund_lands_in_the_queue_once(charging: w.Charging) -> None:
    c = charging
    claimed, true_up_id, refund = await refund_failed_at_card(c)
    stripe_id = refund["stripe_refund_id"]
    kinds = ["charge.refund.updated", "refund.failed", "refund.failed", "refund.created"]
    assert await _deliver(c, kinds, stripe_id) == ["refund reversed"] + ["nothing to change"] * 3
    assert await w.entries_of(c.db, "refund_failed", refund["id"]) == 1
    client = claimed.billed.client_id
    assert await balance(c.db, "client_receivable", client) == -ESTIMATE  # owed to the client

    ops = c.token(claimed.ops)
    queue = await c.api.get("/payments/queues/failed-refunds", headers=ops)
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()["items"]
    assert {k: item[k] for k in ("refund_id", "client_id", "true_up_id", "amount_cents",
                                  "failure_reason", "resolution")} == {
        "refund_id": str(refund["id"]), "client_id": str(client), "true_up_id": str(true_up_id),
        "amount_cents": ESTIMATE, "failure_reason": "expired_or_canceled_card",
        "resolution": None,
    }  # fmt: skip
    body = {"action": "refunded_elsewhere", "note": "check no. 1042 mailed"}
    path = f"/payments/failed-refunds/{item['id']}/resolution"
    for _ in range(2):  # the repeat answers as the first and books nothing more
        done = await c.api.post(path, json=body, headers=ops)
        assert done.status_code == 200, done.text
        assert done.json()["resolution"] == "refunded_elsewhere"
    other = await c.api.post(path, json={**body, "action": "kept_as_credit"}, headers=ops)
    assert other.status_code == 409, other.text
    assert await w.entries_of(c.db, "refund", uuid.UUID(item["id"])) == 1
    assert await balance(c.db, "client_receivable", client) == 0
    assert await balance(c.db, "bank") == -ESTIMATE
    assert (await c.api.get("/payments/queues/failed-refunds", headers=ops)).json()["items"] == []
    resolved = await c.api.get(
        "/payments/queues/failed-refunds", params={"status": "resolved"}, headers=ops
    )
    assert [i["id"] for i in resolved.json()["items"]] == [item["id"]]
    await _balanced(c.db)


def _pay_elsewhere(c: w.Charging, charge_id: uuid.UUID, amount: int, customer: str) -> str:
    """An intent for our charge made outside the charge job (as a client paying on a link
    might): a new card, Hearth's metadata; its id."""
    card = {"number": w.VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = c.sdk.v1.payment_methods.create(params={"type": "card", "card": card})
    c.sdk.v1.payment_methods.attach(method.id, params={"customer": customer})
    intent = c.sdk.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "customer": customer, "payment_method": method.id,
        "off_session": True, "confirm": True,
        "metadata": {"hearth_charge_id": str(charge_id)},
    })  # fmt: skip
    assert intent.status == "succeeded"
    return str(intent.id)


async def _charge(db: asyncpg.Connection, source_id: uuid.UUID) -> dict[str, Any]:
    (charge,) = await w.charges_of(db, source_id)
    return charge


async def test_a_second_intent_is_queued_and_ops_book_it(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(w.DECLINES_WHEN_CHARGED)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    charge = await _charge(c.db, visit.session.id)
    customer = await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
    second = _pay_elsewhere(c, charge["id"], charge["amount_cents"], customer)
    kinds = ["payment_intent.succeeded"] * 2
    assert await _deliver(c, kinds, second) == ["another intent"] * 2
    assert await w.captured_entries(c.db, charge["id"]) == 0  # never booked by itself
    assert (await _charge(c.db, visit.session.id))["status"] == "failed"

    ops = c.token(await make_ops(c.db))
    queue = await c.api.get("/payments/queues/exceptions", headers=ops)
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()["items"]
    assert (item["kind"], item["payment_intent_id"], item["captured_cents"]) == (
        "second_intent", second, charge["amount_cents"],
    )  # fmt: skip
    assert item["net_cents"] + item["fee_cents"] == item["captured_cents"]
    body = {"action": "book", "note": "the client paid on the link with a new card"}
    booked = await c.api.post(f"/payments/exceptions/{item['id']}/resolution", json=body,
                              headers=ops)  # fmt: skip
    assert booked.status_code == 200, booked.text
    charge = await _charge(c.db, visit.session.id)
    assert (charge["status"], charge["payment_intent_id"], charge["fee_cents"]) == (
        "succeeded", second, item["fee_cents"],
    )  # fmt: skip
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await balance(c.db, "client_receivable", visit.client.client_id) == 0
    assert (await c.api.get("/payments/queues/exceptions", headers=ops)).json()["items"] == []
    await _balanced(c.db)


async def test_a_capture_of_another_amount_is_queued_and_dismissed(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed()
    charge = await _charge(c.db, visit.session.id)
    customer = await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
    other = _pay_elsewhere(c, charge["id"], charge["amount_cents"] + 100, customer)
    assert await _deliver(c, ["payment_intent.succeeded"], other) == ["amount differs"]
    assert await w.captured_entries(c.db, charge["id"]) == 0
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]  # the charge's own
    # Its replay after the charge succeeded is still the same exception, queued once.
    assert await _deliver(c, ["payment_intent.succeeded"], other) == ["another intent"]
    ops = c.token(await make_ops(c.db))
    (item,) = (await c.api.get("/payments/queues/exceptions", headers=ops)).json()["items"]
    assert (item["kind"], item["expected_cents"], item["captured_cents"]) == (
        "amount_differs", charge["amount_cents"], charge["amount_cents"] + 100,
    )  # fmt: skip
    path = f"/payments/exceptions/{item['id']}/resolution"
    refused = await c.api.post(path, json={"action": "book", "note": "x"}, headers=ops)
    assert refused.status_code == 409, refused.text
    dismissed = await c.api.post(path, json={"action": "dismiss", "note": "refunded at Stripe"},
                                 headers=ops)  # fmt: skip
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["resolution"] == "dismiss"
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert await c.db.fetchval("SELECT count(*) FROM payment_exceptions") == 1
    await _balanced(c.db)


async def test_a_refund_stripe_refuses_is_queued_and_kept_as_credit(charging: w.Charging) -> None:
    c = charging
    claimed = await _denied(c, await _billed_and_charged(c))
    assert await _settle(c.db) == ["refunding"]
    # Someone refunded the whole charge at Stripe meanwhile: Stripe refuses ours (400).
    intent = claimed.completion["payment_intent_id"]
    c.sdk.v1.refunds.create(params={"payment_intent": intent, "amount": ESTIMATE})
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refund refused"]
    true_up_id = await c.db.fetchval("SELECT id FROM client_true_ups")
    (refund,) = await _refunds(c.db, true_up_id)
    assert (refund["status"], refund["stripe_refund_id"]) == ("failed", None)
    ops = c.token(claimed.ops)
    (item,) = (await c.api.get("/payments/queues/failed-refunds", headers=ops)).json()["items"]
    assert (item["refund_id"], item["amount_cents"], item["true_up_status"]) == (
        str(refund["id"]), ESTIMATE, "credit",
    )  # fmt: skip
    body = {"action": "kept_as_credit", "note": "client asked to keep it for the next session"}
    done = await c.api.post(f"/payments/failed-refunds/{item['id']}/resolution", json=body,
                            headers=ops)  # fmt: skip
    assert done.status_code == 200, done.text
    # Nothing booked: the client's credit stays on their receivable for their next balance.
    assert await w.entries_of(c.db, "refund", uuid.UUID(item["id"])) == 0
    assert await balance(c.db, "client_receivable", claimed.billed.client_id) == -ESTIMATE
    await _balanced(c.db)
