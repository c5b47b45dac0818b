"""Disputes through the Stripe simulator (issue 17 item 6): a dispute won nets to nothing (the
simulator, like Stripe, gives the amount and the $15 fee back), a lost one leaves the amount
owed by the client until ops collect it or write it off; events replayed and in any order book
each entry once; unknown event types are stored as ignored; the ledger balances after each
step."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from services.ledger import service as ledger
from tests.factories import make_ops
from tests.payments import world as w
from tests.remittance.billed import balance

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

DISPUTE_FEE = 1500  # infra/stripe/disputes.py, as Stripe's
CREATED, WITHDRAWN = "charge.dispute.created", "charge.dispute.funds_withdrawn"
REINSTATED, CLOSED = "charge.dispute.funds_reinstated", "charge.dispute.closed"


async def _balanced(db: asyncpg.Connection) -> None:
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def _charged(c: w.Charging) -> dict[str, Any]:
    """A completed session's charge captured: its row (with Stripe's charge id)."""
    visit = await c.completed()
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    row = await c.db.fetchrow(
        "SELECT id, client_id, amount_cents, fee_cents, stripe_charge_id FROM client_charges"
        " WHERE source_id = $1",
        visit.session.id,
    )
    assert row is not None
    return dict(row)


async def _dispute(c: w.Charging, charge: dict[str, Any], close: str | None = None) -> str:
    """The cardholder's bank disputes the charge (and closes it `close`); the dispute's id."""
    opened = await c.admin.post(
        "/_admin/disputes", json={"charge": charge["stripe_charge_id"], "reason": "fraudulent"}
    )
    assert opened.status_code == 200, opened.text
    dispute_id: str = opened.json()["id"]
    if close is not None:
        closed = await c.admin.post(f"/_admin/disputes/{dispute_id}/close", json={"status": close})
        assert closed.status_code == 200, closed.text
    return dispute_id


async def _deliver(c: w.Charging, kinds: list[str], object_id: str) -> list[str]:
    for kind in kinds:
        body = w.event(kind, object_id)
        assert (await w.deliver(c.api, body, c.settings.stripe_webhook_secret)).status_code == 200
    return await w.run_events(c.db, c.tx, c.gateway)


async def _entries(db: asyncpg.Connection, kind: str) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM journal_entries WHERE kind = $1", kind)
    return count


async def _row(db: asyncpg.Connection, stripe_id: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM client_disputes WHERE stripe_dispute_id = $1", stripe_id)
    assert row is not None
    return dict(row)


async def test_a_dispute_opened_then_won_nets_to_nothing(charging: w.Charging) -> None:
    c = charging
    charge = await _charged(c)
    client = charge["client_id"]
    assert await balance(c.db, "client_receivable", client) == 0
    dispute_id = await _dispute(c, charge)
    assert await _deliver(c, [CREATED, WITHDRAWN], dispute_id) == ["dispute needs_response"] * 2
    row = await _row(c.db, dispute_id)
    assert (row["charge_id"], row["client_id"], row["status"], row["reason"]) == (
        charge["id"], client, "needs_response", "fraudulent",
    )  # fmt: skip
    assert (row["amount_cents"], row["funds_withdrawn_cents"], row["fee_cents"]) == (
        charge["amount_cents"], charge["amount_cents"], DISPUTE_FEE,
    )  # fmt: skip
    assert await _entries(c.db, "dispute_opened") == 1
    # Stripe took the amount and its fee: the client owes the amount again.
    assert await balance(c.db, "client_receivable", client) == charge["amount_cents"]
    assert await balance(c.db, "processing_fees") == charge["fee_cents"] + DISPUTE_FEE
    await _balanced(c.db)

    closed = await c.admin.post(f"/_admin/disputes/{dispute_id}/close", json={"status": "won"})
    assert closed.status_code == 200, closed.text
    assert await _deliver(c, [REINSTATED, CLOSED], dispute_id) == ["dispute won"] * 2
    row = await _row(c.db, dispute_id)
    assert (row["status"], row["outcome"], row["funds_reinstated_cents"]) == (
        "won", "won", charge["amount_cents"],
    )  # fmt: skip
    assert row["fee_returned_cents"] == DISPUTE_FEE
    assert (await _entries(c.db, "dispute_opened"), await _entries(c.db, "dispute_won")) == (1, 1)
    # Won: both entries net to nothing; what is left is the charge's own fee.
    assert await balance(c.db, "client_receivable", client) == 0
    assert await balance(c.db, "processing_fees") == charge["fee_cents"]
    await _balanced(c.db)


async def test_replayed_and_reordered_dispute_events_book_once(charging: w.Charging) -> None:
    c = charging
    charge = await _charged(c)
    dispute_id = await _dispute(c, charge, close="lost")
    # The last event first, then the rest, each twice: every run reads the dispute as it is.
    kinds = [CLOSED, WITHDRAWN, CREATED, CLOSED, CREATED, WITHDRAWN]
    assert await _deliver(c, kinds, dispute_id) == ["dispute lost"] * len(kinds)
    assert await _deliver(c, [CREATED], dispute_id) == ["dispute lost"]
    assert (await _entries(c.db, "dispute_opened"), await _entries(c.db, "dispute_won")) == (1, 0)
    row = await _row(c.db, dispute_id)
    assert (row["status"], row["outcome"], row["funds_reinstated_cents"]) == ("lost", "lost", 0)
    assert row["closed_at"] is not None
    assert row["resolution"] is None
    # Lost: the amount stays owed by the client; the fee is the platform's.
    assert await balance(c.db, "client_receivable", charge["client_id"]) == charge["amount_cents"]
    assert await balance(c.db, "processing_fees") == charge["fee_cents"] + DISPUTE_FEE
    assert await c.db.fetchval("SELECT count(*) FROM client_disputes") == 1
    await _balanced(c.db)


async def test_a_dispute_of_a_charge_not_ours_books_nothing(charging: w.Charging) -> None:
    c = charging
    charge = await _charged(c)
    customer = await c.db.fetchval("SELECT stripe_customer_id FROM stripe_customers")
    method = await c.db.fetchval("SELECT id FROM payment_methods WHERE is_default")
    # Made at Stripe without Hearth's metadata (another system on the same account).
    foreign = c.sdk.v1.payment_intents.create(params={
        "amount": 5000, "currency": "usd", "customer": customer, "payment_method": method,
        "off_session": True, "confirm": True,
    })  # fmt: skip
    dispute_id = await _dispute(c, {**charge, "stripe_charge_id": foreign.latest_charge})
    assert await _deliver(c, [CREATED], dispute_id) == ["not our charge"]
    assert await c.db.fetchval("SELECT count(*) FROM client_disputes") == 0
    assert await _entries(c.db, "dispute_opened") == 0


async def test_unknown_event_types_are_stored_as_ignored(charging: w.Charging) -> None:
    c = charging
    assert await _deliver(c, ["customer.subscription.created"], "sub_123") == ["ignored"]
    outcome = await c.db.fetchval(
        "SELECT outcome FROM stripe_events WHERE type = 'customer.subscription.created'"
    )
    assert outcome == "ignored"


async def _lost(c: w.Charging) -> tuple[dict[str, Any], uuid.UUID, dict[str, str]]:
    """A charge whose dispute was lost and recorded: (the charge, our dispute id, ops' auth)."""
    charge = await _charged(c)
    dispute_id = await _dispute(c, charge, close="lost")
    assert await _deliver(c, [CLOSED], dispute_id) == ["dispute lost"]
    ops = c.token(await make_ops(c.db))
    return charge, (await _row(c.db, dispute_id))["id"], ops


async def test_ops_write_a_lost_dispute_off_once(charging: w.Charging) -> None:
    c = charging
    charge, dispute_id, ops = await _lost(c)
    listed = await c.api.get("/payments/disputes", params={"status": "lost"}, headers=ops)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == [str(dispute_id)]
    assert listed.json()["next_cursor"] is None
    none = await c.api.get("/payments/disputes", params={"status": "won"}, headers=ops)
    assert none.json()["items"] == []
    body = {"action": "write_off", "note": "card reported stolen; not worth collecting"}
    headers = {**ops, "Idempotency-Key": "write-off-1"}
    first = await c.api.post(f"/payments/disputes/{dispute_id}/resolution", json=body,
                             headers=headers)  # fmt: skip
    assert first.status_code == 200, first.text
    assert first.json()["resolution"] == "write_off"
    again = await c.api.post(f"/payments/disputes/{dispute_id}/resolution", json=body,
                             headers=ops)  # fmt: skip
    assert again.status_code == 200
    assert again.json()["resolution"] == "write_off"
    other = await c.api.post(f"/payments/disputes/{dispute_id}/resolution",
                             json={**body, "action": "collect"}, headers=ops)  # fmt: skip
    assert other.status_code == 409, other.text
    assert await _entries(c.db, "bad_debt") == 1
    assert await balance(c.db, "client_receivable", charge["client_id"]) == 0
    assert await balance(c.db, "bad_debt") == charge["amount_cents"]
    shown = await c.api.get(f"/payments/disputes/{dispute_id}", headers=ops)
    assert shown.status_code == 200
    assert shown.json()["outcome"] == "lost"
    await _balanced(c.db)


async def test_ops_collect_a_lost_dispute_as_a_balance_due(charging: w.Charging) -> None:
    c = charging
    charge, dispute_id, ops = await _lost(c)
    body = {"action": "collect", "note": "client says they did not recognise the charge"}
    done = await c.api.post(f"/payments/disputes/{dispute_id}/resolution", json=body,
                            headers=ops)  # fmt: skip
    assert done.status_code == 200, done.text
    balance_id = done.json()["balance_charge_id"]
    row = await c.db.fetchrow(
        "SELECT client_id, kind, status, amount_cents, failure_code FROM client_charges"
        " WHERE id = $1",
        uuid.UUID(balance_id),
    )
    assert dict(row) == {"client_id": charge["client_id"], "kind": "balance",
                         "status": "balance_due", "amount_cents": charge["amount_cents"],
                         "failure_code": "dispute_lost"}  # fmt: skip
    # Never charged to the card by itself, and nothing booked: the receivable holds it.
    assert await w.open_outbox(c.db, "charge_client") == []
    assert await balance(c.db, "client_receivable", charge["client_id"]) == charge["amount_cents"]
    await _balanced(c.db)


async def test_only_a_lost_dispute_is_resolved(charging: w.Charging) -> None:
    c = charging
    charge = await _charged(c)
    dispute_id = await _dispute(c, charge)
    assert await _deliver(c, [CREATED], dispute_id) == ["dispute needs_response"]
    ops = c.token(await make_ops(c.db))
    ours = (await _row(c.db, dispute_id))["id"]
    body = {"action": "write_off", "note": "too early"}
    refused = await c.api.post(f"/payments/disputes/{ours}/resolution", json=body, headers=ops)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    bad = await c.api.post(f"/payments/disputes/{ours}/resolution",
                           json={"action": "forgive", "note": "x"}, headers=ops)  # fmt: skip
    assert bad.status_code == 400, bad.text
    assert await _entries(c.db, "bad_debt") == 0
