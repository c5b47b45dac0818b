"""Each claim reaches the payer once whatever happens around the 837's sending: a real arq
worker SIGKILLed at spread points after its batch committed (while the payer is slow to
answer: before the request leaves, while it waits, after the answer was recorded), the next
worker re-sending the pending batches under their PayloadIDs.

HEARTH_KILL_TRIALS(_SUBMISSION) sets how many kills: none by default (skipped by `make test`,
which keeps its time), 50 under `make reliability`, which reads what `_adjudicated_once` counted."""

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

import pytest
from arq import create_pool as create_arq_pool
from arq.connections import ArqRedis, RedisSettings

from services.claims.submission import queue_payer_submission
from services.core import outbox
from services.core.clock import Clock
from services.core.db import transaction
from tests.claims.test_submission import (  # the simulator's world and its helpers
    WORLD_BILLING_NPI,
    Stack,
    _adjudicated,
    _admin,
    _ready_claim,
    _submission,
    stack,  # noqa: F401 - the fixture
)
from tests.infra.clearinghouse.conftest import clearinghouse  # noqa: F401 - the simulator
from tests.live import app_env, process
from tests.reliability import kill_trials, record

TRIALS = kill_trials("submission", default=0)
WORKER = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
HOLD_S = 1.0  # the payer answers the 837 this late
LATEST_KILL_S = 1.4  # after the batch committed: before, during and after the call
VISIBILITY_S = 5
RESTART_LATER = timedelta(seconds=VISIBILITY_S + 30)  # the killed run's row handed out again


@pytest.fixture
async def queue(stack: Stack, redis_namespace: str) -> AsyncIterator[tuple[str, ArqRedis]]:  # noqa: F811
    """A namespace of its own for the workers, and arq's queue in it."""
    namespace = f"{redis_namespace}-skill-{uuid.uuid4().hex[:6]}"
    arq = await create_arq_pool(
        RedisSettings.from_dsn(stack.settings.redis_url), default_queue_name=f"{namespace}:queue"
    )
    yield namespace, arq
    await arq.aclose()


def _env(stack: Stack, namespace: str) -> dict[str, str]:  # noqa: F811
    return app_env(
        stack.settings.database_url, stack.settings.redis_url,
        HEARTH_REDIS_NAMESPACE=namespace, HEARTH_CLEARINGHOUSE_URL=f"{stack.simulator}/core",
        HEARTH_PLATFORM_NPI=WORLD_BILLING_NPI, HEARTH_CLAIM_HOLD_HOURS="0",
        HEARTH_OUTBOX_VISIBILITY_S=str(VISIBILITY_S),
    )  # fmt: skip


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _until(stack: Stack, sql: str, log: Path, within: float = 45) -> None:  # noqa: F811
    deadline = time.monotonic() + within
    while not await stack.pool.fetchval(sql):
        if time.monotonic() > deadline:
            raise AssertionError(_tail(log))
        await asyncio.sleep(0.02)


async def _left(stack: Stack, claim_id: uuid.UUID) -> str:  # noqa: F811
    """Where the kill left a trial's claim: its batch's status beside the payer's side."""
    status = await stack.pool.fetchval(
        "SELECT b.status FROM claim_submissions s JOIN claim_batches b ON b.id = s.batch_id"
        " WHERE s.claim_id = $1",
        claim_id,
    )
    if status == "sent":
        return "recorded"
    clm01 = (await _submission(stack, claim_id))["clm01"]
    at_payer = (await _adjudicated(stack))[clm01]
    return "at the payer, not recorded" if at_payer else f"not sent yet ({status})"


@pytest.mark.skipif(TRIALS == 0, reason="make reliability runs it (HEARTH_KILL_TRIALS)")
async def test_a_worker_killed_around_the_837_sends_each_claim_once(
    stack: Stack, queue: tuple[str, ArqRedis], clock: Clock, tmp_path: Path,  # noqa: F811
) -> None:  # fmt: skip
    namespace, arq = queue
    claims: list[uuid.UUID] = []
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        clock.advance(RESTART_LATER)
        claim_id = await _ready_claim(stack)
        claims.append(claim_id)
        async with transaction(stack.pool) as conn:  # as completion and the cron queue it
            await queue_payer_submission(conn, stack.payer_id, clock.now())
        await _admin(stack.simulator, "mode", {"mode": "slow", "delay_s": HOLD_S})
        log = tmp_path / f"worker-{trial}.log"
        with process(WORKER, _env(stack, namespace), log) as worker:
            await _relay(stack, arq, namespace, clock)
            await _until(stack, f"SELECT status <> 'ready' FROM claims WHERE id = '{claim_id}'",
                         log)  # fmt: skip
            await asyncio.sleep(LATEST_KILL_S * trial / max(1, TRIALS - 1))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        outcomes[await _left(stack, claim_id)] += 1
        # Restarted once the row is handed out again: the pending batch re-sent, the row done.
        await _admin(stack.simulator, "mode", {"mode": "normal"})
        clock.advance(RESTART_LATER)
        log = tmp_path / f"worker-{trial}-restarted.log"
        with process(WORKER, _env(stack, namespace), log):
            await _relay(stack, arq, namespace, clock)
            await _until(stack, "SELECT bool_and(status = 'sent') FROM claim_batches", log)
            await _until(stack, "SELECT bool_and(completed_at IS NOT NULL) FROM outbox"
                                " WHERE job = 'submit_claims'", log)  # fmt: skip
    if TRIALS >= 10:  # the kills landed before the sending and after its recording
        assert outcomes["recorded"], outcomes
        assert sum(outcomes.values()) > outcomes["recorded"], outcomes
    await _adjudicated_once(stack, claims)


async def _relay(stack: Stack, arq: ArqRedis, namespace: str, clock: Clock) -> None:  # noqa: F811
    await outbox.relay(stack.pool, arq, clock.now(), namespace=namespace, visibility_s=VISIBILITY_S)


async def _adjudicated_once(stack: Stack, claims: list[uuid.UUID]) -> None:  # noqa: F811
    """Each claim in one sent batch and adjudicated by the payer exactly once."""
    adjudicated = await _adjudicated(stack)
    clm01s = [(await _submission(stack, claim_id))["clm01"] for claim_id in claims]
    lost = sum(1 for clm01 in clm01s if not adjudicated[clm01])
    duplicated = sum(max(0, adjudicated[clm01] - 1) for clm01 in clm01s)
    record("submission", tried=len(claims), lost=lost, duplicated=duplicated)
    assert adjudicated == Counter(dict.fromkeys(clm01s, 1))
    unsent = await stack.pool.fetchval(
        "SELECT count(*) FROM claims c LEFT JOIN claim_submissions s ON s.claim_id = c.id"
        " LEFT JOIN claim_batches b ON b.id = s.batch_id WHERE b.status IS DISTINCT FROM 'sent'"
    )
    assert unsent == 0
