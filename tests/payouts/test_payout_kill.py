"""Each payout transferred once whatever happens around the Stripe call (DESIGN.md "Payouts",
"Stripe calls, exactly once"): a real arq worker SIGKILLed at varied points while the
simulator is slow or loses the transfer's answer, then restarted (every fourth time a day
later, the keys forgotten).

HEARTH_KILL_TRIALS_PAYOUTS (else HEARTH_KILL_TRIALS) sets how many kills: 20 by default, 200 in
`make reliability` (issue 18's floor; about 4 to 5 s a kill on this machine under load)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import stripe
from arq.connections import ArqRedis

from services.core import clock as hearth_clock
from services.core import outbox
from services.core.clock import Clock
from services.core.db import create_pool
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger import service as ledger
from services.payments.gateway import StripeGateway
from services.payouts.connect import ConnectGateway
from services.payouts.runs import run_payouts
from services.payouts.transfers import LEASE
from tests.live import process
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments.test_kill import WORKER, _a_day_later, _env, _until, queue  # noqa: F401
from tests.payouts import run_world as r
from tests.reliability import kill_trials, record

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

TRIALS = kill_trials("payouts")
HOLD_S = 1.0
LATEST_KILL_S = 1.4
RESTART_LATER = LEASE + timedelta(seconds=30)


def _faults(trial: int) -> dict[str, Any]:
    """Even trials lose the transfer's answer after making it; odd ones answer late."""
    kind = {"kind": "timeout", "after": True} if trial % 2 == 0 else {"kind": "slow"}
    return {**kind, "path_prefix": "/v1/transfers", "method": "POST", "count": 1,
            "delay_s": HOLD_S}  # fmt: skip


async def _frozen(pool: asyncpg.Pool, tx: Transactions, connect: ConnectGateway,
                  cents: int) -> uuid.UUID:  # fmt: skip
    """A provider with an account owed `cents`, their payout frozen: its id."""
    pid = await r.committed_provider_owed(pool, tx, connect, cents)
    assert (await run_payouts(tx, r.RULES, hearth_clock.today(), pid)).created == 1
    found: uuid.UUID = await pool.fetchval("SELECT id FROM payouts WHERE provider_id = $1", pid)
    return found


async def _left(pool: asyncpg.Pool, connect: ConnectGateway, payout_id: uuid.UUID) -> str:
    row = await pool.fetchrow("SELECT status, destination FROM payouts WHERE id = $1", payout_id)
    if row["status"] == "paid":
        return "recorded"
    made = await connect.find_transfer(f"payout_{payout_id}", row["destination"])
    return "transferred, not recorded" if made else f"not transferred yet ({row['status']})"


async def test_a_worker_killed_around_the_transfer_pays_each_payout_once(
    committed_db: str, settings: Settings, queue: tuple[str, ArqRedis], tmp_path: Path,  # noqa: F811
    stripe_sim: str, stripe_admin: httpx.AsyncClient, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, clock: Clock, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    namespace, arq = queue
    smtp = mail_sink.smtp_port  # the world's bookings may queue emails the worker sends
    pool = await create_pool(committed_db, min_size=1, max_size=3)
    connect = ConnectGateway.of(gateway)
    tx = Transactions(lambda: pool.acquire())
    try:
        await r.fund(stripe_client, 10_000_000)
        amounts: dict[uuid.UUID, int] = {}
        outcomes: Counter[str] = Counter()
        for trial in range(TRIALS):
            clock.advance(RESTART_LATER)
            payout_id = await _frozen(pool, tx, connect, 5_000 + trial)
            amounts[payout_id] = 5_000 + trial
            assert (await stripe_admin.delete("/_admin/faults")).status_code == 200
            assert (await stripe_admin.post("/_admin/faults", json=_faults(trial))).is_success
            log = tmp_path / f"worker-{trial}.log"
            with process(
                WORKER, _env(committed_db, settings, namespace, stripe_sim, smtp), log
            ) as wk:
                await outbox.relay(pool, arq, clock.now(), namespace=namespace, visibility_s=5)
                await _until(pool, f"SELECT status <> 'pending' FROM payouts "
                                   f"WHERE id = '{payout_id}'", log)  # fmt: skip
                await asyncio.sleep(LATEST_KILL_S * trial / max(1, TRIALS - 1))
                os.killpg(wk.pid, signal.SIGKILL)
                wk.wait()
            outcomes[await _left(pool, connect, payout_id)] += 1
            if trial % 4 == 3:  # restarted a day later: Stripe forgot the keys meanwhile
                await _a_day_later(stripe_admin, clock)
        assert outcomes["transferred, not recorded"] >= TRIALS // 5, outcomes
        assert (await stripe_admin.delete("/_admin/faults")).status_code == 200
        clock.advance(RESTART_LATER)
        log = tmp_path / "worker-last.log"
        with process(WORKER, _env(committed_db, settings, namespace, stripe_sim, smtp), log):
            await outbox.relay(pool, arq, clock.now(), namespace=namespace, visibility_s=5)
            await _until(pool, "SELECT bool_and(status = 'paid') FROM payouts", log, 60)
            await _until(pool, "SELECT bool_and(completed_at IS NOT NULL) FROM outbox WHERE "
                               "job IN ('transfer_payout', 'transfer_payouts')", log)  # fmt: skip
        await _paid_once(pool, stripe_client, amounts)
    finally:
        await pool.close()


async def _paid_once(
    pool: asyncpg.Pool, sdk: stripe.StripeClient, amounts: dict[uuid.UUID, int]
) -> None:
    """One transfer per payout at Stripe (every page), the one Hearth stored, of its amount;
    one payout_transferred entry each; the ledger balanced; nothing in transit."""
    transfers = list(sdk.v1.transfers.list(params={"limit": 100}).auto_paging_iter())
    per_payout = Counter(t.metadata["hearth_payout_id"] for t in transfers)
    entries = await pool.fetch("SELECT source_id, count(*) AS n FROM journal_entries "
                               "WHERE kind = 'payout_transferred' GROUP BY source_id")  # fmt: skip
    booked = {e["source_id"]: e["n"] for e in entries}
    record(
        "payouts", tried=len(amounts),
        lost=sum(1 for p in amounts if per_payout[str(p)] == 0 or booked.get(p, 0) == 0),
        duplicated=sum(max(per_payout[str(p)] - 1, 0) + max(booked.get(p, 0) - 1, 0)
                       for p in amounts),
    )  # fmt: skip
    assert per_payout == Counter({str(p): 1 for p in amounts}), per_payout
    rows = await pool.fetch("SELECT id, amount_cents, stripe_transfer_id FROM payouts")
    by_id = {t.id: t for t in transfers}
    for row in rows:
        transfer = by_id[row["stripe_transfer_id"]]
        assert transfer.metadata["hearth_payout_id"] == str(row["id"])
        assert transfer.amount == row["amount_cents"] == amounts[row["id"]]
    assert booked == dict.fromkeys(amounts, 1)
    async with pool.acquire() as conn:
        assert (await ledger.get_trial_balance(conn)).imbalance_cents == 0
        assert await r.balance(conn, "payouts_in_transit") == 0
