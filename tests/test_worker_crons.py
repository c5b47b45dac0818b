"""Crons of stacks that share one Redis: each stack's worker runs its own (arq keys a unique
cron's run by name and instant, whatever the queue)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker

from services.core.settings import Settings


async def test_two_stacks_on_one_redis_each_queue_their_own_relay_tick(
    settings: Settings, redis_url: str, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import crons  # its import loads the settings of the environment

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    stacks = [
        msgspec.structs.replace(
            settings, redis_namespace=f"{redis_namespace}-{uuid.uuid4().hex[:6]}"
        )
        for _ in range(2)
    ]
    workers = [
        Worker(queue_name=s.arq_queue_name, cron_jobs=crons(s), redis_pool=pool,
               handle_signals=False)
        for s in stacks
    ]  # fmt: skip
    # A fresh instant: a job key an earlier run left for its tick would refuse the enqueue.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    try:
        for worker in workers:
            await worker.run_cron(start, delay=0.5)  # the first call only schedules
        for worker in workers:  # both on the same wall-clock tick, as real workers are
            await worker.run_cron(start + timedelta(seconds=4.9), delay=0.5)
        relays = []
        for stack in stacks:
            queued = await pool.queued_jobs(queue_name=stack.arq_queue_name)
            relays.append([j.function for j in queued if j.function.endswith("relay_outbox")])
        # Before: the second stack's enqueue was refused (the first's job key), its queue empty.
        assert relays == [[f"cron:{s.redis_namespace}:relay_outbox"] for s in stacks]
    finally:
        for stack in stacks:
            ids = await pool.zrange(stack.arq_queue_name, 0, -1)
            await pool.delete(stack.arq_queue_name, *[b"arq:job:" + i for i in ids])
        await pool.aclose()
