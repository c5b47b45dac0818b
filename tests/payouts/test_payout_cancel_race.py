"""Ops cancelling a failed payout while ops re-run it and its transfer job runs, on their own
connections at once (committed data): each payout ends paid (one transfer at Stripe) or
cancelled (none, its money owed again), never both; the ledger balanced."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest
import stripe

from schemas.payout_runs import CancelPayoutIn
from services.core import clock
from services.core.auth import Actor
from services.core.db import create_pool, transaction
from services.core.transactions import Transactions
from services.ledger.service import get_trial_balance
from services.payments.gateway import StripeGateway
from services.payouts import runs
from services.payouts.cancel import cancel_payout
from services.payouts.connect import ConnectGateway
from services.payouts.errors import PayoutNotCancellable, PayoutNotRetryable
from services.payouts.transfer_batches import transfer_payouts
from services.payouts.transfers import transfer_payout
from tests import factories as f
from tests.payments.world import open_outbox
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

# (cancel's start, the re-run's start) in seconds, a slow lookup or transfer between them.
ROUNDS = [(0.0, 0.4), (0.4, 0.0), (0.0, 0.0), (0.05, 0.0), (0.0, 0.05), (0.1, 0.1),
          (0.15, 0.0), (0.0, 0.15)]  # fmt: skip


async def _failed(pool: asyncpg.Pool, tx: Transactions, connect: ConnectGateway,
                  sdk: stripe.StripeClient, cents: int) -> uuid.UUID:  # fmt: skip
    """A payout Stripe refused, its provider's account able to receive again: its id."""
    pid = await r.committed_provider_owed(pool, tx, connect, cents)
    async with pool.acquire() as conn:
        destination = await r.destination(conn, pid)
    r.transfers_capability(sdk, destination, False)
    assert (await runs.run_payouts(tx, r.RULES, clock.today(), pid)).created == 1
    async with pool.acquire() as conn:
        (batch,) = await open_outbox(conn, "transfer_payouts")
    assert await transfer_payouts(tx, connect, batch) == "failed 1"
    r.transfers_capability(sdk, destination, True)
    found: uuid.UUID = await pool.fetchval("SELECT id FROM payouts WHERE provider_id = $1", pid)
    return found


async def _cancel(tx: Transactions, connect: ConnectGateway, ops: Actor, payout_id: uuid.UUID,
                  delay: float) -> str:  # fmt: skip
    await asyncio.sleep(delay)
    try:
        await cancel_payout(tx, connect, ops, payout_id, CancelPayoutIn(reason="race"), None)
    except PayoutNotCancellable:
        return "refused"
    return "cancelled"


async def _rerun(pool: asyncpg.Pool, tx: Transactions, connect: ConnectGateway, ops: Actor,
                 payout_id: uuid.UUID, delay: float) -> list[str]:  # fmt: skip
    await asyncio.sleep(delay)
    try:
        async with transaction(pool) as conn:
            await runs.retry_payout(conn, ops, payout_id)
    except PayoutNotRetryable:
        return ["not re-run"]
    async with pool.acquire() as conn:
        jobs = await open_outbox(conn, "transfer_payout")
    return [await transfer_payout(tx, connect, n) for n in jobs]


async def test_a_cancel_racing_the_transfer_never_leaves_a_payout_paid_and_cancelled(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient,
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=2, max_size=6)
    try:
        tx = Transactions(lambda: pool.acquire())
        connect = ConnectGateway.of(gateway)
        async with transaction(pool) as conn:
            ops = await f.make_ops(conn)
        await r.fund(stripe_client, 1_000_000)
        ends: Counter[str] = Counter()
        for n, (cancel_at, rerun_at) in enumerate(ROUNDS):
            payout_id = await _failed(pool, tx, connect, stripe_client, 5_000 + n)
            # Every other round Stripe is slow to list transfers (the cancel's lookup, the
            # job's look before its transfer), else slow to make one.
            slow = {"kind": "slow", "count": 1, "delay_s": 0.2, "path_prefix": "/v1/transfers",
                    "method": "GET" if n % 2 else "POST"}  # fmt: skip
            assert (await stripe_admin.post("/_admin/faults", json=slow)).status_code == 200
            await asyncio.gather(_cancel(tx, connect, ops, payout_id, cancel_at),
                                 _rerun(pool, tx, connect, ops, payout_id, rerun_at))  # fmt: skip
            assert (await stripe_admin.delete("/_admin/faults")).status_code == 200
            ends[await _one_end(pool, stripe_client, payout_id)] += 1
        assert set(ends) == {"paid", "cancelled"}, ends
        async with pool.acquire() as conn:
            assert (await get_trial_balance(conn)).imbalance_cents == 0
            assert await r.balance(conn, "payouts_in_transit") == 0
    finally:
        await pool.close()


async def _one_end(pool: asyncpg.Pool, sdk: stripe.StripeClient, payout_id: uuid.UUID) -> str:
    """The payout's end, checked against Stripe and the ledger: paid or cancelled, not both."""
    row = await pool.fetchrow("SELECT status, stripe_transfer_id, transfer_group FROM payouts "
                              "WHERE id = $1", payout_id)  # fmt: skip
    made = sdk.v1.transfers.list(params={"transfer_group": row["transfer_group"]}).data
    booked = {e["kind"]: e["n"] for e in await pool.fetch(
        "SELECT kind, count(*) AS n FROM journal_entries WHERE source_id = $1 GROUP BY kind",
        payout_id)}  # fmt: skip
    if row["status"] == "paid":
        assert [t.id for t in made] == [row["stripe_transfer_id"]]
        assert booked == {"payout_frozen": 1, "payout_transferred": 1}
    else:
        assert row["status"] == "cancelled", row
        assert (made, row["stripe_transfer_id"]) == ([], None)
        assert booked == {"payout_frozen": 1, "payout_cancelled": 1}
    return str(row["status"])
