"""The payout run against the Stripe simulator: each due provider paid once per period (a
second run and a second job pay nothing), recoupments netted with their reason, payouts held
for want of funds paid in full after a top-up, a lost answer looked up (also once Stripe forgot
the key), errors retried then held for ops, transfer reversals booked once; the ledger balanced
after each."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests import factories as f
from tests.payments import world as pw
from tests.payouts import run_world as r
from tests.payouts import world as w

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def test_a_run_pays_each_due_provider_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    due = [await r.provider_owed(db, api, token, [12_000, 8_000]),
           await r.provider_owed(db, api, token, [9_900])]  # fmt: skip
    later = await r.provider_owed(db, api, token, [5_000])
    for provider in due:
        await r.schedule_today(api, ops, provider)
    await r.schedule_today(api, ops, later, due=False)
    await r.fund(stripe_client, 1_000_000)
    tally = await r.run(db)
    assert (tally.due, tally.created) == (2, 2)
    # A second run of the day (another worker, the cron's next hour) makes nothing more.
    assert (await r.run(db)).existing == 2
    assert sorted(await r.run_transfers(db, tx, gateway)) == ["paid", "paid"]
    assert await r.run_transfers(db, tx, gateway) == []
    rows = await r.payouts(db)
    assert sorted((p["provider_id"], p["amount_cents"], p["status"]) for p in rows) == sorted(
        [(due[0].provider_id, 20_000, "paid"), (due[1].provider_id, 9_900, "paid")])  # fmt: skip
    for provider, cents in ((due[0], 20_000), (due[1], 9_900)):
        (transfer,) = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
        payout = next(p for p in rows if p["provider_id"] == provider.provider_id)
        assert (transfer.amount, transfer.id) == (cents, payout["stripe_transfer_id"])
        assert transfer.transfer_group == f"payout_{payout['id']}"
        assert transfer.metadata.to_dict() == {"hearth_payout_id": str(payout["id"])}
        assert await r.balance(db, "provider_payable", provider.provider_id) == 0
    assert await r.balance(db, "provider_payable", later.provider_id) == 5_000
    assert await r.balance(db, "payouts_in_transit") == 0
    assert (await r.entries(db, "payout_frozen"), await r.entries(db, "payout_transferred")) == (
        2, 2)  # fmt: skip
    await r.assert_balanced(db)
    # A retry of a paid payout is refused; the job run again for it finds it done.
    retry = await api.post(f"/payouts/{rows[0]['id']}/retry", headers=ops)
    assert (retry.status_code, retry.json()["code"]) == (409, "payout_not_retryable")
    (day,) = (await api.get("/payouts/runs", headers=ops)).json()["items"]
    assert (day["payouts"], day["paid"], day["paid_cents"], day["held"], day["runs"]) == (
        2, 2, 29_900, 0, 2)  # fmt: skip
    detail = (await api.get(f"/payouts/{rows[0]['id']}", headers=ops)).json()
    assert sum(x["amount_cents"] for x in detail["lines"]) == detail["payout"]["amount_cents"]


async def test_a_recoupment_is_netted_with_its_reason(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [10_000, 6_000])
    pid = provider.provider_id
    assert pid is not None
    await w.recoupment(db, pid, 3_500, r.settled_at())
    await r.fund(stripe_client, 100_000)
    assert (await r.run(db, provider_id=pid)).created == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    assert payout["amount_cents"] == 12_500
    detail = (await api.get(f"/payouts/{payout['id']}", headers=token(provider))).json()
    assert detail["payout"]["recoupments_cents"] == 3_500
    assert sorted(x["amount_cents"] for x in detail["lines"]) == [-3_500, 6_000, 10_000]
    (line,) = [x for x in detail["lines"] if x["kind"] == "recoupment"]
    assert line["source_table"] == "remitted_claims"
    await r.assert_balanced(db)


async def test_recoupments_beyond_what_is_owed_carry_to_the_next_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [4_000])
    pid = provider.provider_id
    assert pid is not None
    await w.recoupment(db, pid, 5_000, r.settled_at())
    tally = await r.run(db, provider_id=pid)
    assert (tally.created, tally.below_minimum) == (0, 1)
    assert await r.payouts(db) == []
    # Owed -10.00 carried: a later session of 60.00 pays 50.00, its lines naming both.
    await w.session_entry(db, pid, uuid.uuid4(), 6_000, r.settled_at())
    await r.fund(stripe_client, 100_000)
    assert (await r.run(db, provider_id=pid)).created == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    assert payout["amount_cents"] == 5_000
    await r.assert_balanced(db)


async def test_below_the_minimum_nothing_is_paid(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    provider = await r.provider_owed(db, api, token, [99])
    assert (await r.run(db, provider_id=provider.provider_id)).below_minimum == 1
    assert await r.payouts(db) == []
    assert await r.balance(db, "provider_payable", provider.provider_id) == 99


async def test_short_funds_hold_the_payout_until_a_top_up_pays_it_in_full(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [30_000])
    await r.fund(stripe_client, 10_000)
    await r.run(db, provider_id=provider.provider_id)
    assert await r.run_transfers(db, tx, gateway) == ["held insufficient_platform_balance"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["hold_reason"]) == ("held", "insufficient_platform_balance")
    assert r.transfers_to(stripe_client, await r.destination(db, provider.provider_id)) == []
    assert await r.balance(db, "payouts_in_transit") == 30_000
    await r.assert_balanced(db)
    # Ops top up from the bank: once it succeeds, the held payout is sent again, in full.
    ops = token(await f.make_ops(db))
    made = await api.post("/payouts/top-ups", json={"amount_cents": 50_000}, headers=ops)
    assert made.status_code == 201, made.text
    assert await w.run_top_ups(db, tx, gateway) == ["succeeded"]
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
    assert transfer.amount == 30_000
    assert await r.balance(db, "payouts_in_transit") == 0
    await r.assert_balanced(db)


async def _lost_transfer(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> Any:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [15_000])
    await r.fund(stripe_client, 100_000)
    await r.transfer_fault(stripe_admin, kind="timeout", count=1, delay_s=0.5, after=True)
    await r.run(db, provider_id=provider.provider_id)
    assert await r.run_transfers(db, tx, gateway) == ["unknown"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["stripe_transfer_id"]) == ("submitting", None)
    return provider


@pytest.mark.parametrize("forgotten", [False, True])
async def test_a_lost_answer_is_looked_up_before_any_new_transfer(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
    forgotten: bool,
) -> None:  # fmt: skip
    provider = await _lost_transfer(db, api, tx, gateway, stripe_client, stripe_admin, token)
    if forgotten:  # a day later Stripe forgot the key: only the lookup stops a second transfer
        await stripe_admin.post("/_admin/clock", json={"advance_s": 90_000})
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["stripe_transfer_id"], payout["attempt"]) == (
        "paid", transfer.id, 1)  # fmt: skip
    assert await r.entries(db, "payout_transferred") == 1
    await r.assert_balanced(db)


async def test_errors_are_retried_under_new_keys_then_held_for_ops(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [7_000])
    await r.fund(stripe_client, 100_000)
    await r.transfer_fault(stripe_admin, kind="error", count=5, status=500)
    await r.run(db, provider_id=provider.provider_id)
    outcomes = [(await r.run_transfers(db, tx, gateway))[0] for _ in range(5)]
    assert outcomes == ["retry"] * 4 + ["held transfer_failed"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["hold_reason"], payout["attempt"], payout["errors"]) == (
        "held", "transfer_failed", 5, 5)  # fmt: skip
    ops = token(await f.make_ops(db))
    held = (await api.get("/payouts", params={"status": "held"}, headers=ops)).json()
    assert [p["id"] for p in held["items"]] == [str(payout["id"])]
    key = {"Idempotency-Key": "retry-1"}
    retried = await api.post(f"/payouts/{payout['id']}/retry", headers={**ops, **key})
    assert (retried.status_code, retried.json()["payout"]["status"]) == (200, "pending")
    # Repeated (the answer lost): the first answer again; without the key: pending, a 409.
    again = await api.post(f"/payouts/{payout['id']}/retry", headers={**ops, **key})
    assert (again.status_code, again.json()) == (200, retried.json())
    assert (await api.post(f"/payouts/{payout['id']}/retry", headers=ops)).status_code == 409
    assert len(await pw.open_outbox(db, "transfer_payout")) == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
    assert transfer.amount == 7_000
    assert await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout' AND entity_id = $1 "
        "AND action = 'update' AND actor_user_id IS NOT NULL", payout["id"]) == 1  # fmt: skip
    await r.assert_balanced(db)


async def test_no_account_holds_the_payout_until_one_can_be_paid(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [8_000], account=False)
    await r.fund(stripe_client, 100_000)
    assert (await r.run(db, provider_id=provider.provider_id)).held == 1
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["hold_reason"]) == ("held", "no_payout_account")
    assert await r.run_transfers(db, tx, gateway) == []
    made = await api.post(f"/providers/{provider.provider_id}/payout-account",
                          headers=token(provider))  # fmt: skip
    assert made.status_code == 201
    # The next run sends it (its amount as frozen), and freezes nothing more.
    assert (await r.run(db, provider_id=provider.provider_id)).requeued == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert [p["status"] for p in await r.payouts(db)] == ["paid"]
    await r.assert_balanced(db)


async def test_a_reversal_is_booked_once_and_paid_again_later(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [20_000])
    pid = provider.provider_id
    await r.fund(stripe_client, 100_000)
    await r.run(db, provider_id=pid)
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    transfer_id = payout["stripe_transfer_id"]
    stripe_client.v1.transfers.reversals.create(transfer_id, params={"amount": 4_000})
    for _ in range(2):  # delivered twice
        event = pw.event("transfer.reversed", transfer_id)
        assert (await pw.deliver(api, event, settings.stripe_webhook_secret)).status_code == 200
    assert await pw.run_events(db, tx, gateway) == ["1 reversals booked",
                                                    "reversals booked before"]  # fmt: skip
    assert await r.entries(db, "transfer_reversed") == 1
    assert await r.balance(db, "provider_payable", pid) == 4_000
    assert await db.fetchval("SELECT reversed_cents FROM payouts") == 4_000
    await r.assert_balanced(db)
    # A second reversal of the same transfer is its own entry.
    stripe_client.v1.transfers.reversals.create(transfer_id, params={"amount": 1_000})
    event = pw.event("transfer.reversed", transfer_id)
    assert (await pw.deliver(api, event, settings.stripe_webhook_secret)).status_code == 200
    assert await pw.run_events(db, tx, gateway) == ["1 reversals booked"]
    assert await r.balance(db, "provider_payable", pid) == 5_000
    await r.assert_balanced(db)


async def test_a_provider_hold_skips_the_run_and_holds_a_frozen_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    provider = await r.provider_owed(db, api, token, [9_000])
    pid = provider.provider_id
    await r.fund(stripe_client, 100_000)
    base = f"/providers/{pid}/payout-holds"
    hold = (await api.post(base, json={"reason": "W-9 missing"}, headers=ops)).json()
    tally = await r.run(db, provider_id=pid)
    assert (tally.on_hold, tally.created) == (1, 0)
    released = await api.post(f"/payout-holds/{hold['id']}/release", json={}, headers=ops)
    assert released.status_code == 200
    # Frozen, then held by ops before its transfer: the job holds it and transfers nothing.
    assert (await r.run(db, provider_id=pid)).created == 1
    again = (await api.post(base, json={"reason": "bank change"}, headers=ops)).json()
    assert await r.run_transfers(db, tx, gateway) == ["held provider_hold"]
    assert r.transfers_to(stripe_client, await r.destination(db, pid)) == []
    assert (await r.run(db, provider_id=pid)).requeued == 0  # still held
    await api.post(f"/payout-holds/{again['id']}/release", json={}, headers=ops)
    assert (await r.run(db, provider_id=pid)).requeued == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert [(p["status"], p["amount_cents"]) for p in await r.payouts(db)] == [("paid", 9_000)]
    await r.assert_balanced(db)


async def test_the_default_schedule_pays_on_mondays_and_a_manual_one_only_when_ops_run_it(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    default = await r.provider_owed(db, api, token, [4_000])
    manual = await r.provider_owed(db, api, token, [4_000])
    put = await api.put(f"/providers/{manual.provider_id}/payout-schedule",
                        json={"kind": "manual"}, headers=ops)  # fmt: skip
    assert put.status_code == 200
    monday = clock.today() + timedelta(days=(1 - clock.today().isoweekday()) % 7 or 7)
    assert (await r.run(db, day=monday + timedelta(days=1))).due == 0
    tally = await r.run(db, day=monday)
    assert (tally.due, tally.created) == (1, 1)
    assert [p["provider_id"] for p in await r.payouts(db)] == [default.provider_id]
    assert (await r.run(db, day=monday, provider_id=manual.provider_id)).created == 1
    assert len(await r.payouts(db)) == 2


async def test_a_refused_transfer_fails_until_ops_re_run_it(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [6_500])
    pid = provider.provider_id
    await r.fund(stripe_client, 100_000)
    # An account Stripe does not know (closed, say): the transfer is refused with a 4xx.
    account = await r.destination(db, pid)
    await db.execute("UPDATE payout_accounts SET stripe_account_id = 'acct_gone' "
                     "WHERE provider_id = $1", pid)  # fmt: skip
    await r.run(db, provider_id=pid)
    assert await r.run_transfers(db, tx, gateway) == ["failed"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["failure_code"] is not None) == ("failed", True)
    assert await r.balance(db, "payouts_in_transit") == 6_500
    ops = token(await f.make_ops(db))
    (day,) = (await api.get("/payouts/runs", headers=ops)).json()["items"]
    assert (day["failed"], day["paid"]) == (1, 0)
    await db.execute("UPDATE payout_accounts SET stripe_account_id = $2 WHERE provider_id = $1",
                     pid, account)  # fmt: skip
    assert (await api.post(f"/payouts/{payout['id']}/retry", headers=ops)).status_code == 200
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["attempt"]) == ("paid", 2)
    assert len(r.transfers_to(stripe_client, account)) == 1
    await r.assert_balanced(db)
