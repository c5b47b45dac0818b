"""POST /payouts/{id}/cancel: a failed or held payout that never reached Stripe cancelled by
ops with a reason (Idempotency-Key, audited), its money owed again and paid by the next payout
exactly once; one whose transfer did reach Stripe recorded, not cancelled; every other state a
409 naming it; only ops."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests import factories as f
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def _failed(db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions,
                  gateway: StripeGateway, sdk: stripe.StripeClient, token: Any,
                  cents: list[int]) -> tuple[Any, str, asyncpg.Record]:  # fmt: skip
    """A provider whose payout Stripe refused (their account cannot receive transfers)."""
    provider = await r.provider_owed(db, api, token, cents)
    await r.fund(sdk, 100_000)
    destination = await r.destination(db, provider.provider_id)
    r.transfers_capability(sdk, destination, False)
    assert (await r.run(db, provider_id=provider.provider_id)).created == 1
    assert await r.run_transfers(db, tx, gateway) == ["failed"]
    (payout,) = await r.payouts(db)
    return provider, destination, payout


def _cancel(api: httpx.AsyncClient, payout_id: Any, headers: dict[str, str],
            body: Any = None, key: str | None = None) -> Any:  # fmt: skip
    extra = {"Idempotency-Key": key} if key else {}
    return api.post(f"/payouts/{payout_id}/cancel", json=body or {"reason": "account closed"},
                    headers={**headers, **extra})  # fmt: skip


async def test_a_cancelled_payout_is_paid_by_the_next_run_exactly_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider, destination, payout = await _failed(db, api, tx, gateway, stripe_client, token,
                                                  [6_500, 3_000])  # fmt: skip
    pid = provider.provider_id
    assert await r.balance(db, "payouts_in_transit") == 9_500
    ops = token(await f.make_ops(db))
    first = await _cancel(api, payout["id"], ops, key="cancel-1")
    assert first.status_code == 200, first.text
    body = first.json()["payout"]
    assert (body["status"], body["cancel_reason"], body["hold_reason"]) == (
        "cancelled", "account closed", None)  # fmt: skip
    assert (await _cancel(api, payout["id"], ops, key="cancel-1")).json() == first.json()
    again = await _cancel(api, payout["id"], ops, key="cancel-2")
    assert (again.status_code, again.json()["code"]) == (409, "payout_not_cancellable")
    assert "cancelled" in again.json()["detail"]
    retry = await api.post(f"/payouts/{payout['id']}/retry", headers=ops)
    assert retry.status_code == 409
    assert (await r.entries(db, "payout_cancelled"), await r.balance(db, "payouts_in_transit"),
            await r.balance(db, "provider_payable", pid)) == (1, 0, 9_500)  # fmt: skip
    assert await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout' AND entity_id = $1 "
        "AND action = 'update' AND actor_user_id IS NOT NULL", payout["id"]) == 1  # fmt: skip
    await r.assert_balanced(db)
    assert await r.run_transfers(db, tx, gateway) == []  # never sent

    # The account can receive again: the next period's payout pays the 95.00 once.
    r.transfers_capability(stripe_client, destination, True)
    clock.CLOCK.advance(timedelta(days=1))
    assert (await r.run(db, provider_id=pid)).created == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, destination)
    assert transfer.amount == 9_500
    rows = await r.payouts(db)
    assert [(p["status"], p["amount_cents"]) for p in rows] == [
        ("cancelled", 9_500), ("paid", 9_500)]  # fmt: skip
    lines = (await api.get(f"/payouts/{rows[1]['id']}", headers=ops)).json()["lines"]
    assert [(x["kind"], x["source_id"], x["amount_cents"]) for x in lines] == [
        ("payout_cancelled", str(payout["id"]), 9_500)]  # fmt: skip
    # Every entry of the provider's payable covered by one payout at most; nothing left owed.
    covered = await db.fetch("SELECT entry_id, count(*) FROM payout_lines GROUP BY entry_id "
                             "HAVING count(*) > 1")  # fmt: skip
    assert covered == []
    assert await r.balance(db, "provider_payable", pid) == 0
    assert await r.balance(db, "payouts_in_transit") == 0
    clock.CLOCK.advance(timedelta(days=1))
    assert (await r.run(db, provider_id=pid)).created == 0
    statement = (await api.get(f"/payouts/{rows[1]['id']}/statement", headers=ops)).json()
    assert "cancelled" in statement["lines"][0]["description"]
    await r.assert_balanced(db)


async def test_a_held_payout_whose_transfer_reached_stripe_is_recorded_not_cancelled(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [7_000])
    await r.fund(stripe_client, 100_000)
    # Four 500s, then a 502 whose transfer Stripe made: held for ops after the fifth error,
    # with a transfer at Stripe the job never saw.
    await r.transfer_fault(stripe_admin, kind="error", count=4, status=500)
    await r.transfer_fault(stripe_admin, kind="error", count=1, status=502, after=True)
    await r.run(db, provider_id=provider.provider_id)
    outcomes = [(await r.run_transfers(db, tx, gateway))[0] for _ in range(5)]
    assert outcomes == ["retry"] * 4 + ["held transfer_failed"]
    (payout,) = await r.payouts(db)
    (made,) = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
    ops = token(await f.make_ops(db))
    refused = await _cancel(api, payout["id"], ops, key="cancel-held")
    assert (refused.status_code, refused.json()["code"]) == (409, "payout_not_cancellable")
    assert made.id in refused.json()["detail"]
    assert "paid" in refused.json()["detail"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["stripe_transfer_id"]) == ("paid", made.id)
    assert (await r.entries(db, "payout_transferred"), await r.entries(db, "payout_cancelled"),
            await r.balance(db, "payouts_in_transit")) == (1, 0, 0)  # fmt: skip
    await r.assert_balanced(db)


async def test_a_held_payout_never_sent_is_cancelled(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    provider = await r.provider_owed(db, api, token, [8_000], account=False)
    assert (await r.run(db, provider_id=provider.provider_id)).held == 1
    (payout,) = await r.payouts(db)
    ops = token(await f.make_ops(db))
    done = await _cancel(api, payout["id"], ops, {"reason": "provider left the practice"})
    assert (done.status_code, done.json()["payout"]["status"]) == (200, "cancelled")
    assert await r.balance(db, "provider_payable", provider.provider_id) == 8_000
    # A run requeueing held payouts leaves it alone.
    assert (await r.run(db, provider_id=provider.provider_id)).requeued == 0
    assert [p["status"] for p in await r.payouts(db)] == ["cancelled"]
    await r.assert_balanced(db)


async def test_only_a_failed_or_held_payout_is_cancelled(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [5_000])
    await r.fund(stripe_client, 100_000)
    await r.run(db, provider_id=provider.provider_id)
    (payout,) = await r.payouts(db)
    ops = token(await f.make_ops(db))
    for state in ("pending", "paid"):
        refused = await _cancel(api, payout["id"], ops)
        assert (refused.status_code, refused.json()["code"]) == (409, "payout_not_cancellable")
        assert f"is {state}" in refused.json()["detail"]
        await r.run_transfers(db, tx, gateway)
    assert (await _cancel(api, uuid.uuid4(), ops)).status_code == 404
    assert await r.entries(db, "payout_cancelled") == 0
    with pytest.raises(asyncpg.CheckViolationError):  # the database keeps a paid one paid
        async with db.transaction():
            await db.execute("UPDATE payouts SET status = 'cancelled', cancelled_at = now(), "
                             "cancel_reason = 'x' WHERE id = $1", payout["id"])  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "x" * 501}, "reason"),
     ({"reason": "a\x00b"}, "reason"), ({"reason": "r", "amount_cents": 1}, "amount_cents")],
)  # fmt: skip
async def test_a_cancel_without_a_good_reason_is_refused_naming_the_field(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    refused = await api.post(f"/payouts/{uuid.uuid4()}/cancel", json=body, headers=ops)
    assert refused.status_code in (400, 422), refused.text
    assert field in refused.text


@pytest.mark.parametrize(("who", "status"), [("none", 401), ("client", 403), ("own", 403),
                                             ("ops", 200)])  # fmt: skip
async def test_only_ops_cancel_a_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, who: str, status: int
) -> None:
    provider = await r.provider_owed(db, api, token, [8_000], account=False)
    await r.run(db, provider_id=provider.provider_id)
    (payout,) = await r.payouts(db)
    callers = {"none": None, "client": await f.make_client_actor(db), "own": provider,
               "ops": await f.make_ops(db)}  # fmt: skip
    caller = callers[who]
    answered = await _cancel(api, payout["id"], token(caller) if caller else {})
    assert answered.status_code == status, answered.text
    assert [p["status"] for p in await r.payouts(db)] == [
        "cancelled" if status == 200 else "held"]  # fmt: skip


async def test_a_runs_totals_count_a_cancelled_payout_apart(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    paid = await r.provider_owed(db, api, token, [5_000, 1_500])
    left = await r.provider_owed(db, api, token, [8_000], account=False)
    await r.fund(stripe_client, 100_000)
    assert (await r.run(db, provider_id=paid.provider_id)).created == 1
    assert (await r.run(db, provider_id=left.provider_id)).held == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    held = next(p for p in await r.payouts(db) if p["status"] == "held")
    ops = token(await f.make_ops(db))
    (before,) = (await api.get("/payouts/runs", headers=ops)).json()["items"]
    assert (before["payouts"], before["total_cents"], before["held"], before["cancelled"],
            before["cancelled_cents"]) == (2, 14_500, 1, 0, 0)  # fmt: skip
    assert (await _cancel(api, held["id"], ops)).status_code == 200
    (day,) = (await api.get("/payouts/runs", headers=ops)).json()["items"]
    # What the run sends (paid or not yet) apart from what ops cancelled (owed again).
    assert (day["payouts"], day["total_cents"], day["paid"], day["paid_cents"], day["held"],
            day["cancelled"], day["cancelled_cents"]) == (
        1, 6_500, 1, 6_500, 0, 1, 8_000)  # fmt: skip
