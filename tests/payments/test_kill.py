"""Charges once whatever happens around the Stripe call (DESIGN.md "Stripe calls, exactly
once"): a real arq worker SIGKILLed at varied points while the simulator is slow or loses its
answer, then restarted (every fourth time a day later, the keys forgotten); and a retry after
Stripe forgot the Idempotency-Key (24 h later).

HEARTH_KILL_TRIALS(_CHARGING) sets how many kills (10 by default: enough to land kills on every
side of the call, each trial a worker's start-up; `make reliability` asks for more and reads
what `_charged_once` counted)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import stripe
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis, RedisSettings

from schemas.ledger import AccountRef
from services.core import outbox
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger import service as ledger
from services.payments import service
from services.payments.charges import LEASE, charge_client
from services.payments.gateway import StripeGateway
from tests.live import app_env, process
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments import world as w
from tests.reliability import kill_trials, record
from tests.stripesim import API_KEY

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

TRIALS = kill_trials("charging", default=10)
WORKER = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
# The simulator holds the create's answer this long (made first, answer then lost) or answers
# this late; the kills spread from the claim to past that, so they land before the call, while
# Stripe has the intent and Hearth does not, and after the run recorded "outcome unknown".
HOLD_S = 1.0
LATEST_KILL_S = 1.4
# Each restart is this much later: the killed run's lease and the outbox row's visibility
# timeout are over, as they would be for a worker restarted after a crash.
RESTART_LATER = LEASE + timedelta(seconds=30)
FORGOTTEN = timedelta(hours=25)  # Stripe keeps an Idempotency-Key 24 hours


def _faults(trial: int) -> dict[str, Any]:
    """Even trials lose the create's answer after making the intent; odd ones answer late."""
    kind = {"kind": "timeout", "after": True} if trial % 2 == 0 else {"kind": "slow"}
    return {**kind, "path_prefix": "/v1/payment_intents", "method": "POST", "count": 1,
            "delay_s": HOLD_S}  # fmt: skip


def _kill_after(trial: int) -> float:
    return LATEST_KILL_S * trial / max(1, TRIALS - 1)


@pytest.fixture
async def queue(settings: Settings, redis_namespace: str) -> AsyncIterator[tuple[str, ArqRedis]]:
    """A namespace of its own for the workers, and arq's queue in it (the test relays the
    outbox itself rather than wait for the worker's 5-second cron)."""
    namespace = f"{redis_namespace}-kill-{uuid.uuid4().hex[:6]}"
    arq = await create_arq_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=f"{namespace}:queue"
    )
    yield namespace, arq
    await arq.aclose()


async def _left(pool: asyncpg.Pool, gateway: StripeGateway, charge_id: uuid.UUID) -> str:
    """Where the kill left a trial's charge: Stripe's side beside Hearth's."""
    row = await pool.fetchrow(
        "SELECT c.status, s.stripe_customer_id FROM client_charges c"
        " JOIN stripe_customers s USING (client_id) WHERE c.id = $1",
        charge_id,
    )
    made = await gateway.find_intent(row["stripe_customer_id"], charge_id, 0)
    if row["status"] == "succeeded":
        return "recorded"
    return "charged, not recorded" if made is not None else f"not charged yet ({row['status']})"


async def _a_day_later(admin: httpx.AsyncClient, clock: Clock) -> None:
    advanced = await admin.post("/_admin/clock", json={"advance_s": FORGOTTEN.total_seconds()})
    assert advanced.status_code == 200, advanced.text
    clock.advance(FORGOTTEN)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _until(pool: asyncpg.Pool, sql: str, log: Path, within: float = 45) -> None:
    deadline = time.monotonic() + within
    while not await pool.fetchval(sql):
        if time.monotonic() > deadline:
            raise AssertionError(_tail(log))
        await asyncio.sleep(0.02)


async def _kill_one(
    pool: asyncpg.Pool, env: dict[str, str], arq: ArqRedis, namespace: str, now: Any,
    charge_id: uuid.UUID, delay: float, log: Path,
) -> None:  # fmt: skip
    """A worker started, the outbox handed to it, SIGKILLed `delay` after it claimed the
    charge (and whatever else it was recovering at that moment)."""
    with process(WORKER, env, log) as worker:
        await outbox.relay(pool, arq, now, namespace=namespace, visibility_s=5)
        sql = f"SELECT status <> 'pending' FROM client_charges WHERE id = '{charge_id}'"
        await _until(pool, sql, log)
        await asyncio.sleep(delay)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


async def test_a_worker_killed_around_the_stripe_call_charges_each_once(
    committed_db: str, settings: Settings, queue: tuple[str, ArqRedis], tmp_path: Path,
    stripe_sim: str, stripe_admin: httpx.AsyncClient, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, clock: Clock, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    namespace, arq = queue
    # The self-pay booking's Good Faith Estimate email is one of the outbox's jobs too.
    smtp = mail_sink.smtp_port
    pool = await create_pool(committed_db, min_size=1, max_size=3)
    try:
        visit = await w.committed_setup(pool, gateway, stripe_client, settings)
        client_id = visit.client.client_id
        assert client_id is not None
        async with pool.acquire() as conn:  # the card saved (the stored event's job run here)
            assert await w.run_events(conn, Transactions(lambda: pool.acquire()), gateway) == [
                "card saved"
            ]
        charges: dict[uuid.UUID, int] = {}
        outcomes: Counter[str] = Counter()
        for trial in range(TRIALS):
            clock.advance(RESTART_LATER)
            async with transaction(pool) as conn:
                amount, session_id = 5_000 + trial, uuid.uuid4()
                await w.completion_owed(conn, client_id, session_id, amount)
                charge_id = await service.add_completion_charge(conn, client_id, session_id, amount)
            assert charge_id is not None
            charges[charge_id] = amount
            assert (await stripe_admin.delete("/_admin/faults")).status_code == 200
            assert (await stripe_admin.post("/_admin/faults", json=_faults(trial))).is_success
            env = _env(committed_db, settings, namespace, stripe_sim, smtp)
            log = tmp_path / f"worker-{trial}.log"
            await _kill_one(
                pool, env, arq, namespace, clock.now(), charge_id, _kill_after(trial), log
            )
            outcomes[await _left(pool, gateway, charge_id)] += 1
            if trial % 4 == 3:  # restarted a day later: Stripe forgot the keys meanwhile
                await _a_day_later(stripe_admin, clock)
        # The kills landed at varied points, several where Stripe had charged and Hearth
        # had not recorded it.
        assert outcomes["charged, not recorded"] >= TRIALS // 5, outcomes
        assert (await stripe_admin.delete("/_admin/faults")).status_code == 200
        clock.advance(RESTART_LATER)
        log = tmp_path / "worker-last.log"
        with process(WORKER, _env(committed_db, settings, namespace, stripe_sim, smtp), log):
            await outbox.relay(pool, arq, clock.now(), namespace=namespace, visibility_s=5)
            await _until(pool, "SELECT bool_and(status = 'succeeded') FROM client_charges", log, 60)
            await _until(
                pool,
                "SELECT bool_and(completed_at IS NOT NULL) FROM outbox",
                log,
            )
        await _charged_once(pool, stripe_client, client_id, charges)
    finally:
        await pool.close()


def _env(
    database_url: str, settings: Settings, namespace: str, stripe_sim: str, smtp_port: int
) -> dict[str, str]:
    return app_env(
        database_url, settings.redis_url,
        HEARTH_REDIS_NAMESPACE=namespace, HEARTH_OUTBOX_VISIBILITY_S="5",
        HEARTH_SMTP_HOST="127.0.0.1", HEARTH_SMTP_PORT=str(smtp_port),
        HEARTH_STRIPE_API_BASE=stripe_sim, HEARTH_STRIPE_API_KEY=API_KEY,
        HEARTH_STRIPE_WEBHOOK_SECRET=settings.stripe_webhook_secret,
    )  # fmt: skip


async def _charged_once(
    pool: asyncpg.Pool, sdk: stripe.StripeClient, client_id: uuid.UUID,
    charges: dict[uuid.UUID, int],
) -> None:  # fmt: skip
    """One succeeded intent per charge at Stripe (the customer's, every page), the one Hearth
    stored; one card_captured entry each; the ledger balanced; nothing left pending."""
    customer = await pool.fetchval(
        "SELECT stripe_customer_id FROM stripe_customers WHERE client_id = $1", client_id
    )
    listed = sdk.v1.payment_intents.list(params={"customer": customer, "limit": 100})
    intents = list(listed.auto_paging_iter())
    per_charge = Counter(pi.metadata["hearth_charge_id"] for pi in intents)
    entries = await pool.fetch(
        "SELECT source_id, count(*) AS n FROM journal_entries WHERE kind = 'card_captured'"
        " GROUP BY source_id"
    )
    booked = {r["source_id"]: r["n"] for r in entries}
    made = {c: per_charge[str(c)] for c in charges}
    record(
        "charging", tried=len(charges),
        lost=sum(1 for c in charges if not made[c] or not booked.get(c)),
        duplicated=sum(max(0, n - 1) for n in [*made.values(), *booked.values()]),
    )  # fmt: skip
    assert per_charge == Counter({str(c): 1 for c in charges}), per_charge
    assert all(pi.status == "succeeded" for pi in intents), [pi.status for pi in intents]
    stored = await pool.fetch("SELECT id, amount_cents, payment_intent_id FROM client_charges")
    by_intent = {pi.id: pi for pi in intents}
    for row in stored:
        intent = by_intent[row["payment_intent_id"]]
        assert intent.metadata["hearth_charge_id"] == str(row["id"])
        assert intent.amount == row["amount_cents"] == charges[row["id"]]
    assert booked == dict.fromkeys(charges, 1)
    async with pool.acquire() as conn:
        assert (await ledger.get_trial_balance(conn)).imbalance_cents == 0
        receivable = AccountRef(kind="client_receivable", owner_id=client_id)
        # Each completion's debt settled by its capture exactly once.
        balance = await ledger.get_account_balance(conn, receivable)
        assert balance.balance_cents == 0
    jobs = await pool.fetch("SELECT completed_at, failed_at FROM outbox")
    assert all(j["completed_at"] is not None and j["failed_at"] is None for j in jobs), jobs


async def test_a_retry_after_stripe_forgot_the_key_finds_the_intent_and_charges_nothing(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    visit, outbox_id, charge = await c.answer_lost()  # the intent made, its answer lost
    assert charge["attempt"] == 1
    (made,) = await c.intents()
    assert made.status == "succeeded"
    # A key Stripe would have replayed until now; a day and more later it is forgotten.
    probe = {"idempotency_key": f"probe-{uuid.uuid4().hex}"}
    first = c.sdk.v1.customers.create(params={"email": "probe@example.test"}, options=probe)
    await _a_day_later(c.admin, clock)
    again = c.sdk.v1.customers.create(params={"email": "other@example.test"}, options=probe)
    assert again.id != first.id  # other parameters under the key: no idempotency_error
    # The next run looks the intent up by metadata before any call under charge-{id}-a1
    # (which Stripe would now answer with a second charge).
    assert await charge_client(c.tx, c.gateway, outbox_id) == "succeeded"
    (charge,) = await w.charges_of(c.db, visit.session.id)
    assert (charge["status"], charge["attempt"], charge["payment_intent_id"]) == (
        "succeeded",
        1,
        made.id,
    )
    assert [pi.id for pi in await c.intents()] == [made.id]
    assert await w.captured_entries(c.db, charge["id"]) == 1
    assert (await ledger.get_trial_balance(c.db)).imbalance_cents == 0
    # Run again (a duplicate job): nothing more.
    assert await charge_client(c.tx, c.gateway, outbox_id) == "done before"
    assert len(await c.intents()) == 1
