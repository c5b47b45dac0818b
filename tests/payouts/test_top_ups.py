"""Top-ups against the Stripe simulator: recorded by ops once per Idempotency-Key, created at
Stripe once (a lost answer looked up, an error answer retried under the next key), booked
(Dr stripe_balance, Cr bank) once it succeeds and only then, failed when the bank refuses."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests import factories as f
from tests.payments import world as pw
from tests.payouts import world as w

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def _booked(db: asyncpg.Connection) -> list[tuple[str, str, int]]:
    rows = await db.fetch(
        """
        SELECT a.kind, l.side, l.amount_cents FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.kind = 'top_up' ORDER BY l.side DESC
        """
    )
    return [(r["kind"], r["side"], r["amount_cents"]) for r in rows]


async def _request(api: httpx.AsyncClient, ops: dict[str, str], cents: int = 50_000) -> Any:
    made = await api.post("/payouts/top-ups", json={"amount_cents": cents}, headers=ops)
    assert made.status_code == 201, made.text
    return made.json()


async def _row(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow("SELECT status, attempt, stripe_topup_id, failure_code "
                            "FROM platform_top_ups")  # fmt: skip
    assert row is not None
    return row


async def test_a_top_up_is_recorded_once_and_booked_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: Any,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    key = {"Idempotency-Key": "top-up-monday"}
    body = {"amount_cents": 250_000, "description": "weekly float"}
    first = await api.post("/payouts/top-ups", json=body, headers={**ops, **key})
    assert (first.status_code, first.json()["status"]) == (201, "pending")
    again = await api.post("/payouts/top-ups", json=body, headers={**ops, **key})
    assert again.json() == first.json()
    assert await w.run_top_ups(db, tx, gateway) == ["succeeded"]
    assert await _booked(db) == [("stripe_balance", "debit", 250_000), ("bank", "credit", 250_000)]
    (topup,) = stripe_client.v1.topups.list().data
    assert (topup.amount, topup.metadata.to_dict()) == (250_000, {"hearth_top_up_id":
                                                                  first.json()["id"]})  # fmt: skip
    # Stripe's topup.succeeded, delivered twice, books nothing more.
    for _ in range(2):
        event = pw.event("topup.succeeded", topup.id)
        assert (await pw.deliver(api, event, settings.stripe_webhook_secret)).status_code == 200
    assert await pw.run_events(db, tx, gateway) == ["already succeeded"] * 2
    assert len(await _booked(db)) == 2
    listed = (await api.get("/payouts/top-ups", headers=ops)).json()
    assert [(t["status"], t["stripe_topup_id"]) for t in listed["items"]] == [
        ("succeeded", topup.id)]  # fmt: skip
    assert listed["next_cursor"] is None
    assert await w.run_top_ups(db, tx, gateway) == []


async def _created_at_stripe(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> str:  # fmt: skip
    """A top-up whose funds take an hour to arrive, made at Stripe: its Stripe id."""
    await stripe_admin.post("/_admin/config", json={"topup_delay_s": 3600})
    await _request(api, token(await f.make_ops(db)))
    assert await w.run_top_ups(db, tx, gateway) == ["created"]
    row = await _row(db)
    assert row["status"] == "created"
    return str(row["stripe_topup_id"])


async def test_a_pending_top_up_is_booked_when_it_succeeds(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_admin: httpx.AsyncClient, settings: Settings, token: Any,
) -> None:  # fmt: skip
    topup_id = await _created_at_stripe(db, api, tx, gateway, stripe_admin, token)
    assert await _booked(db) == []
    # Re-read while still pending: nothing booked, looked at again later.
    assert await w.run_top_ups(db, tx, gateway) == ["pending"]
    await stripe_admin.post("/_admin/clock", json={"advance_s": 3600})
    event = pw.event("topup.succeeded", topup_id)
    assert (await pw.deliver(api, event, settings.stripe_webhook_secret)).status_code == 200
    assert await pw.run_events(db, tx, gateway) == ["succeeded"]
    assert len(await _booked(db)) == 2
    # The re-read job finds it settled and finishes.
    assert await w.run_top_ups(db, tx, gateway) == ["done before"]
    assert await w.run_top_ups(db, tx, gateway) == []


async def test_a_top_up_the_bank_refuses_fails_and_books_nothing(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_admin: httpx.AsyncClient, settings: Settings, token: Any,
) -> None:  # fmt: skip
    topup_id = await _created_at_stripe(db, api, tx, gateway, stripe_admin, token)
    assert (await stripe_admin.post(f"/_admin/topups/{topup_id}/fail")).status_code == 200
    event = pw.event("topup.failed", topup_id)
    assert (await pw.deliver(api, event, settings.stripe_webhook_secret)).status_code == 200
    assert await pw.run_events(db, tx, gateway) == ["failed"]
    row = await _row(db)
    assert (row["status"], row["failure_code"]) == ("failed", "account_closed")
    assert await _booked(db) == []
    assert await w.run_top_ups(db, tx, gateway) == ["done before"]


async def test_a_lost_answer_is_looked_up_before_any_new_top_up(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    lose = {"kind": "timeout", "path_prefix": "/v1/topups", "method": "POST", "count": 1,
            "delay_s": 0.5, "after": True}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=lose)).status_code == 200
    await _request(api, token(await f.make_ops(db)))
    assert await w.run_top_ups(db, tx, gateway) == ["unknown"]
    row = await _row(db)
    assert (row["status"], row["stripe_topup_id"]) == ("submitting", None)
    assert await _booked(db) == []
    # A day later the key is forgotten: only the lookup keeps a second top-up from being made.
    await stripe_admin.post("/_admin/clock", json={"advance_s": 90_000})
    assert await w.run_top_ups(db, tx, gateway) == ["succeeded"]
    (topup,) = stripe_client.v1.topups.list().data
    assert (await _row(db))["stripe_topup_id"] == topup.id
    assert len(await _booked(db)) == 2


async def test_an_error_answer_is_retried_under_the_next_key(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    fail = {"kind": "error", "path_prefix": "/v1/topups", "method": "POST", "count": 1,
            "status": 500}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=fail)).status_code == 200
    await _request(api, token(await f.make_ops(db)))
    assert await w.run_top_ups(db, tx, gateway) == ["retry"]
    row = await _row(db)
    assert (row["status"], row["attempt"]) == ("pending", 1)
    assert await w.run_top_ups(db, tx, gateway) == ["succeeded"]
    assert ((await _row(db))["attempt"], len(stripe_client.v1.topups.list().data)) == (2, 1)


@pytest.mark.parametrize("who", ["none", "provider", "client"])
async def test_only_ops_top_up(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, who: str
) -> None:
    caller = None if who == "none" else await f.make_actor(db, who)
    headers = token(caller) if caller else {}
    expected = 401 if who == "none" else 403
    made = await api.post("/payouts/top-ups", json={"amount_cents": 10_000}, headers=headers)
    assert made.status_code == expected
    assert (await api.get("/payouts/top-ups", headers=headers)).status_code == expected
    assert await db.fetchval("SELECT count(*) FROM platform_top_ups") == 0


@pytest.mark.parametrize("cents", [0, -5, 99, 100_000_000, "many", None])
async def test_a_bad_amount_is_refused_naming_it(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, cents: Any
) -> None:
    ops = token(await f.make_ops(db))
    refused = await api.post("/payouts/top-ups", json={"amount_cents": cents}, headers=ops)
    assert refused.status_code == 400, refused.text
    assert "amount_cents" in refused.text
