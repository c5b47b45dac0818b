"""settle_true_up in the real arq worker: the outbox row the posting wrote is relayed, the job
moves the true-up to balance_due and completes its row (registered in workers/settings.py)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import pytest

from services.core.db import create_pool, transaction
from services.core.settings import Settings
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.live import app_env, process
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import bill

pytestmark = pytest.mark.usefixtures("clock")


async def test_the_worker_settles_a_ready_true_up(
    committed_db: str, settings: Settings, redis_namespace: str, tmp_path: Path
) -> None:
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        async with transaction(pool) as conn:
            ops = await make_ops(conn)
            payer = await make_payer(conn)
            billed = await bill(conn, payer.id, await make_provider_actor(conn))
            await t.post(conn, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
        env = app_env(
            committed_db,
            settings.redis_url,
            HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-trueup-{uuid.uuid4().hex[:6]}",
        )
        worker = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
        log = tmp_path / "worker.log"
        with process(worker, env, log):
            deadline = time.monotonic() + 45
            status = None
            while time.monotonic() < deadline:
                status = await pool.fetchval(
                    "SELECT status FROM client_true_ups WHERE claim_id = $1", billed.claim_id
                )
                if status != "ready":
                    break
                await asyncio.sleep(0.5)
            assert status == "balance_due", log.read_text()[-3000:]
        row = await pool.fetchrow(
            "SELECT completed_at, failed_at FROM outbox WHERE job = 'settle_true_up'"
        )
        assert row["completed_at"] is not None
        assert row["failed_at"] is None
    finally:
        await pool.close()
