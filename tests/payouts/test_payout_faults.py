"""Stripe faults around a payout's transfer, injected at the simulator's HTTP boundary (no
mocks): a 429 and a 5xx retried under a new key (a 429 backed off and counted apart from the
errors, held for ops only after many), a 5xx whose transfer was made found by the
lookup before any new one, the lookup itself failing, the balance read failing, a transfer
refused for an account that cannot receive it, and Stripe answering balance_insufficient after
the balance read said enough. (Timeouts, lost answers also past 24 hours, and 5xx until held
are in test_payout_runs.py.) Each: one transfer at most, the ledger balanced."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from services.payouts import transfers
from tests import factories as f
from tests.payments import world as pw
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def _frozen(db: asyncpg.Connection, api: httpx.AsyncClient, token: Any,
                  sdk: stripe.StripeClient, cents: int = 7_000) -> tuple[Any, str]:  # fmt: skip
    """A provider owed `cents`, funds enough, their payout frozen: (provider, destination)."""
    provider = await r.provider_owed(db, api, token, [cents])
    await r.fund(sdk, 100_000)
    assert (await r.run(db, provider_id=provider.provider_id)).created == 1
    return provider, await r.destination(db, provider.provider_id)


async def _counts(db: asyncpg.Connection, payout_id: Any) -> tuple[int, int]:
    """(errors, 429s) counted on the payout."""
    row = await db.fetchrow("SELECT errors, rate_limited FROM payouts WHERE id = $1", payout_id)
    return row["errors"], row["rate_limited"]


async def _retry_at(db: asyncpg.Connection) -> datetime:
    """When the payout's own transfer job is handed out again."""
    (outbox_id,) = await pw.open_outbox(db, "transfer_payout")
    found: datetime = await db.fetchval("SELECT available_at FROM outbox WHERE id = $1",
                                        outbox_id)  # fmt: skip
    return found


@pytest.mark.parametrize(("status", "code", "counts", "wait"), [
    (429, "RateLimitError", (0, 1), transfers.RATE_LIMIT_FIRST),
    (503, "APIError", (1, 0), transfers.RETRY_ERROR),
])  # fmt: skip
async def test_a_429_or_a_5xx_is_retried_under_a_new_key_and_pays_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
    status: int, code: str, counts: tuple[int, int], wait: timedelta,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client)
    await r.transfer_fault(stripe_admin, kind="error", count=1, status=status)
    before = clock.now()
    assert await r.run_transfers(db, tx, gateway) == ["retry"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["attempt"], payout["failure_code"]) == (
        "pending", 1, code)  # fmt: skip
    # A 429 is no error of the payout's: counted apart, tried again after a jittered wait.
    assert await _counts(db, payout["id"]) == counts
    shortest = wait / 2 if status == 429 else wait
    assert before + shortest <= await _retry_at(db) <= clock.now() + wait
    assert r.transfers_to(stripe_client, destination) == []
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, destination)
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["attempt"], payout["stripe_transfer_id"]) == (
        "paid", 2, transfer.id)  # fmt: skip
    assert await r.entries(db, "payout_transferred") == 1
    await r.assert_balanced(db)


async def test_a_5xx_whose_transfer_was_made_is_found_not_made_again(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client)
    # Stripe made the transfer and answered 502: an error, so the next try takes key a2, and
    # only the lookup by transfer group stands between it and a second transfer.
    await r.transfer_fault(stripe_admin, kind="error", count=1, status=502, after=True)
    assert await r.run_transfers(db, tx, gateway) == ["retry"]
    (made,) = r.transfers_to(stripe_client, destination)
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert [t.id for t in r.transfers_to(stripe_client, destination)] == [made.id]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["stripe_transfer_id"]) == ("paid", made.id)
    assert await r.balance(db, "payouts_in_transit") == 0
    await r.assert_balanced(db)


async def test_a_failed_lookup_or_balance_read_transfers_nothing_until_stripe_answers(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client)
    await r.transfer_fault(stripe_admin, kind="timeout", count=1, delay_s=0.3, after=True)
    assert await r.run_transfers(db, tx, gateway) == ["unknown"]
    # The lookup before any new attempt: first no answer, then a 500: still unknown.
    for kind in ("timeout", "error"):
        await r.transfer_fault(stripe_admin, kind=kind, method="GET", count=1, delay_s=0.3)
        assert await r.run_transfers(db, tx, gateway) == ["unknown" if kind == "timeout"
                                                          else "retry"]  # fmt: skip
    assert len(r.transfers_to(stripe_client, destination)) == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert len(r.transfers_to(stripe_client, destination)) == 1
    # Another payout: the balance read fails (500), nothing is transferred, then it pays.
    _, other = await _frozen(db, api, token, stripe_client, 4_000)
    fault = {"kind": "error", "path_prefix": "/v1/balance", "method": "GET", "count": 1}
    assert (await stripe_admin.post("/_admin/faults", json=fault)).status_code == 200
    assert await r.run_transfers(db, tx, gateway) == ["retry"]
    assert r.transfers_to(stripe_client, other) == []
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert len(r.transfers_to(stripe_client, other)) == 1
    assert await r.entries(db, "payout_transferred") == 2
    await r.assert_balanced(db)


async def test_an_account_that_cannot_receive_transfers_fails_the_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client, 6_500)
    r.transfers_capability(stripe_client, destination, False)
    assert await r.run_transfers(db, tx, gateway) == ["failed"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["failure_code"], payout["errors"]) == (
        "failed", "insufficient_capabilities_for_transfer", 0)  # fmt: skip
    assert r.transfers_to(stripe_client, destination) == []
    assert await r.run_transfers(db, tx, gateway) == []  # refused: not retried by itself
    assert await r.balance(db, "payouts_in_transit") == 6_500
    await r.assert_balanced(db)


async def test_balance_insufficient_at_the_transfer_holds_the_payout_never_half_paid(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client)
    # The balance read said enough; the balance was spent before the transfer, which Stripe
    # answers 400 balance_insufficient: held for funds, not failed, nothing transferred.
    await r.transfer_fault(stripe_admin, kind="error", count=1, status=400,
                           code="balance_insufficient")  # fmt: skip
    assert await r.run_transfers(db, tx, gateway) == ["held insufficient_platform_balance"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["hold_reason"]) == ("held", "insufficient_platform_balance")
    assert r.transfers_to(stripe_client, destination) == []
    assert (await r.run(db, provider_id=payout["provider_id"])).requeued == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = r.transfers_to(stripe_client, destination)
    assert transfer.amount == 7_000
    await r.assert_balanced(db)


async def test_429s_back_off_apart_from_errors_and_hold_the_payout_for_ops_at_last(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    _, destination = await _frozen(db, api, token, stripe_client, 6_000)
    limit = transfers.MAX_RATE_LIMITED
    # Four 5xx (one short of the errors that hold a payout), then a 429 on every call after.
    await r.transfer_fault(stripe_admin, kind="error", count=4, status=500)
    await r.transfer_fault(stripe_admin, kind="error", count=limit, status=429)
    waits = []
    for _ in range(4 + limit - 1):
        before = clock.now()
        assert await r.run_transfers(db, tx, gateway) == ["retry"]
        waits.append((before, await _retry_at(db), clock.now()))
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["attempt"]) == ("pending", 4 + limit - 1)
    assert await _counts(db, payout["id"]) == (4, limit - 1)
    # Each 429's wait: doubling from the first to the most, never under half its ceiling.
    for n, (before, at, after) in enumerate(waits[4:], start=1):
        ceiling = min(transfers.RATE_LIMIT_FIRST * 2 ** (n - 1), transfers.RATE_LIMIT_MAX)
        assert before + ceiling / 2 <= at <= after + ceiling, n
    assert await r.run_transfers(db, tx, gateway) == ["held stripe_rate_limited"]
    (payout,) = await r.payouts(db)
    assert (payout["status"], payout["hold_reason"], payout["failure_code"]) == (
        "held", "stripe_rate_limited", "RateLimitError")  # fmt: skip
    assert await _counts(db, payout["id"]) == (4, limit)
    assert await pw.open_outbox(db, "transfer_payout") == []
    assert r.transfers_to(stripe_client, destination) == []
    # Ops see it held and send it again: both counts start over, and it pays once.
    ops = token(await f.make_ops(db))
    held = (await api.get("/payouts", params={"status": "held"}, headers=ops)).json()["items"]
    assert [(p["id"], p["hold_reason"]) for p in held] == [
        (str(payout["id"]), "stripe_rate_limited")]  # fmt: skip
    assert (await api.post(f"/payouts/{payout['id']}/retry", headers=ops)).status_code == 200
    assert await _counts(db, payout["id"]) == (0, 0)
    await r.assert_paid_once(db, tx, gateway, stripe_client, destination, 6_000)
