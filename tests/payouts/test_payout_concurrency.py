"""Two payout runs at once and two runs of one transfer job at once, on their own connections
(committed data): one payout per provider and period, one transfer each at Stripe."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from schemas.payouts import PayoutScheduleIn
from services.core import clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger.service import get_trial_balance
from services.payments.gateway import StripeGateway
from services.payouts import runs
from services.payouts.accounts import create_payout_account
from services.payouts.connect import ConnectGateway
from services.payouts.runs import run_payouts
from services.payouts.schedules import set_payout_schedule
from services.payouts.transfer_batches import transfer_payouts
from tests import factories as f
from tests.payments.world import open_outbox
from tests.payouts import run_world as r
from tests.payouts import world as w
from workers.jobs import payouts as cron

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def test_concurrent_runs_and_jobs_pay_each_provider_once(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=2, max_size=6)
    try:
        tx = Transactions(lambda: pool.acquire())
        connect = ConnectGateway.of(gateway)
        today = clock.today()
        owed: dict[uuid.UUID, int] = {}
        async with transaction(pool) as conn:
            ops = await f.make_ops(conn)
            providers = [await f.make_provider_actor(conn) for _ in range(3)]
        for n, provider in enumerate(providers):
            pid = provider.provider_id
            assert pid is not None
            await create_payout_account(tx, connect, ops, pid, "https://app.hearth.test")
            async with transaction(pool) as conn:
                schedule = PayoutScheduleIn(kind="weekly", anchor_weekday=today.isoweekday())
                await set_payout_schedule(conn, ops, pid, schedule, 48)
                await w.session_entry(conn, pid, uuid.uuid4(), 10_000 + n, r.settled_at())
            owed[pid] = 10_000 + n
        await r.fund(stripe_client, 1_000_000)
        # The daily cron's job beside ops' run of the same day.
        made, tally = await asyncio.gather(
            cron.run_payouts({"pool": pool, "settings": settings, "stripe": gateway}),
            run_payouts(tx, r.RULES, today),
        )
        # Each provider's payout made by one run; the other found it made.
        assert (made + tally.created, tally.created + tally.existing) == (3, 3)
        await r.transfer_fault(stripe_admin, kind="slow", count=3, delay_s=0.3)
        async with pool.acquire() as conn:
            jobs = await open_outbox(conn, "transfer_payouts")
        assert len(jobs) == 1  # one freeze batch, one job for its three payouts
        # Two workers run the batch's job at once: one pays all three, the other finds them
        # leased (or done).
        outcomes = await asyncio.gather(*(transfer_payouts(tx, connect, jobs[0])
                                          for _ in range(2)))  # fmt: skip
        assert sorted(outcomes)[1] == "paid 3", outcomes
        assert sorted(outcomes)[0] in {"leased", "done before"}, outcomes
        async with pool.acquire() as conn:
            rows = await r.payouts(conn)
            assert {p["provider_id"]: (p["amount_cents"], p["status"]) for p in rows} == {
                pid: (cents, "paid") for pid, cents in owed.items()}  # fmt: skip
            for pid in owed:
                assert len(r.transfers_to(stripe_client, await r.destination(conn, pid))) == 1
            assert await r.entries(conn, "payout_transferred") == 3
            assert (await get_trial_balance(conn)).imbalance_cents == 0
    finally:
        await pool.close()


async def _seven_due(pool: asyncpg.Pool) -> dict[uuid.UUID, int]:
    """Seven providers due today, each owed two sessions: provider -> cents owed."""
    today = clock.today()
    owed: dict[uuid.UUID, int] = {}
    async with transaction(pool) as conn:
        ops = await f.make_ops(conn)
        for n in range(7):
            pid = (await f.make_provider_actor(conn)).provider_id
            assert pid is not None
            schedule = PayoutScheduleIn(kind="weekly", anchor_weekday=today.isoweekday())
            await set_payout_schedule(conn, ops, pid, schedule, 48)
            for cents in (5_000, 7_000 + n):
                await w.session_entry(conn, pid, uuid.uuid4(), cents, r.settled_at())
            owed[pid] = 12_000 + n
    return owed


async def _each_paid_once(pool: asyncpg.Pool, owed: dict[uuid.UUID, int]) -> None:
    """One payout a provider of what they are owed, each entry on one payout's lines (two a
    provider), the ledger balanced."""
    async with pool.acquire() as conn:
        rows = await r.payouts(conn)
        assert {p["provider_id"]: p["amount_cents"] for p in rows} == owed
        assert len(rows) == len(owed)
        lines = await conn.fetch(
            "SELECT l.provider_id, count(*) AS n, sum(l.amount_cents) AS cents "
            "FROM payout_lines l JOIN payouts p ON p.id = l.payout_id "
            "AND p.provider_id = l.provider_id GROUP BY l.provider_id"
        )
        assert {x["provider_id"]: (x["n"], x["cents"]) for x in lines} == {
            pid: (2, cents) for pid, cents in owed.items()}  # fmt: skip
        assert (await get_trial_balance(conn)).imbalance_cents == 0


async def test_two_runs_freezing_batches_at_once_make_each_payout_once(
    committed_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily job freezes FREEZE_CONCURRENCY batches at once, each in its own transaction;
    two such runs at the same moment (batches of 2 here, 7 providers: 4 batches each) still
    make one payout per provider, with each of its entries on one payout's lines."""
    monkeypatch.setattr(runs, "BATCH", 2)
    pool = await create_pool(committed_db, min_size=2, max_size=6)
    try:
        tx = Transactions(lambda: pool.acquire())
        owed = await _seven_due(pool)
        tallies = await asyncio.gather(*(
            run_payouts(tx, r.RULES, clock.today(), concurrency=runs.FREEZE_CONCURRENCY)
            for _ in range(2)
        ))  # fmt: skip
        assert sum(t.created + t.held for t in tallies) == 7, tallies
        assert all(t.created + t.held + t.existing == 7 for t in tallies), tallies
        await _each_paid_once(pool, owed)
        async with pool.acquire() as conn:
            # No Connect accounts: every payout held, none sent.
            assert await open_outbox(conn, "transfer_payouts") == []
    finally:
        await pool.close()


async def test_a_batch_failing_mid_run_leaves_the_others_whole_and_the_next_run_finishes(
    committed_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that fails (here the third to start, an error raised inside its transaction,
    as a lost connection would) fails the run: the batch beside it is cancelled and rolled
    back, batches committed before stay; the next run freezes exactly what is left."""
    monkeypatch.setattr(runs, "BATCH", 2)
    freeze, started = runs.freeze_payouts, []

    async def failing(conn: asyncpg.Connection, chunk: list[uuid.UUID], *args: Any) -> list[str]:
        started.append(chunk)
        out = await freeze(conn, chunk, *args)
        if len(started) == 3:
            raise ConnectionResetError("the connection went away mid-batch")
        await asyncio.sleep(0.05)  # still open when the failing batch raises
        return out

    pool = await create_pool(committed_db, min_size=2, max_size=6)
    try:
        tx = Transactions(lambda: pool.acquire())
        owed = await _seven_due(pool)
        monkeypatch.setattr(runs, "freeze_payouts", failing)
        with pytest.raises(ExceptionGroup) as raised:
            await run_payouts(tx, r.RULES, clock.today(), concurrency=2)
        assert raised.group_contains(ConnectionResetError)
        async with pool.acquire() as conn:
            kept = await r.payouts(conn)
        assert 0 < len(kept) < 7  # the batches committed before the failure, no more
        monkeypatch.setattr(runs, "freeze_payouts", freeze)
        tally = await run_payouts(tx, r.RULES, clock.today(), concurrency=2)
        assert (tally.created + tally.held, tally.existing) == (7 - len(kept), len(kept))
        await _each_paid_once(pool, owed)
    finally:
        await pool.close()
