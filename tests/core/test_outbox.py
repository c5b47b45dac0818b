"""The outbox relay hands each due row to arq once, again after the visibility timeout, and
never a completed row; two relays at once hand out each row once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from services.core import outbox
from services.core.clock import Clock
from services.core.db import create_pool as create_pg_pool
from services.core.db import transaction

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NS = f"outbox-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def at_now(clock: Clock) -> None:
    # Rows are stamped from the clock and relayed at NOW and after: both read the same time.
    clock.freeze(NOW)


@pytest.fixture
async def pool(committed_db: str) -> AsyncGenerator[asyncpg.Pool, None]:
    pg = await create_pg_pool(committed_db, min_size=1, max_size=4)
    yield pg
    await pg.close()


@pytest.fixture
async def queue(redis_url: str, redis_namespace: str) -> AsyncGenerator[ArqRedis, None]:
    name = f"{redis_namespace}:outbox-test"
    arq = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=name)

    async def clean() -> None:
        keys = [k async for k in arq.scan_iter(match=f"arq:job:{NS}:*")]
        await arq.delete(name, *keys)

    await clean()
    yield arq
    await clean()
    await arq.aclose()


async def _relay(pool: asyncpg.Pool, queue: ArqRedis, at: datetime) -> int:
    return await outbox.relay(pool, queue, at, namespace=NS, visibility_s=60)


async def _queued(queue: ArqRedis) -> list[str]:
    return sorted(job.job_id for job in await queue.queued_jobs())


async def test_rows_are_handed_out_once_then_again_after_the_visibility_timeout(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    async with transaction(pool) as conn:
        first = await outbox.add(conn, "recheck_benefits", {"policy_id": "p1"})
        second = await outbox.add(conn, "recheck_benefits", {"policy_id": "p2"})
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 2
    assert await _queued(queue) == [f"{NS}:outbox-{first}-1", f"{NS}:outbox-{second}-1"]
    # Within the visibility timeout: nothing more.
    assert await _relay(pool, queue, NOW + timedelta(seconds=30)) == 0
    # One job finished; the other's worker died: only that one comes back, with a new job id.
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, first) is not None  # type: ignore[arg-type]
        await outbox.complete(conn, first)  # type: ignore[arg-type]
    assert await _relay(pool, queue, NOW + timedelta(seconds=61)) == 1
    assert f"{NS}:outbox-{second}-2" in await _queued(queue)
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, first) is None  # type: ignore[arg-type]


async def test_a_dedupe_key_queues_the_same_work_once_until_it_is_done(
    pool: asyncpg.Pool,
) -> None:
    async with transaction(pool) as conn:
        first = await outbox.add(conn, "recheck_benefits", {}, dedupe_key="policy-1")
        again = await outbox.add(conn, "recheck_benefits", {}, dedupe_key="policy-1")
        assert first is not None
        assert again is None
        await outbox.complete(conn, first)
        assert await outbox.add(conn, "recheck_benefits", {}, dedupe_key="policy-1") is not None


async def test_two_relays_at_once_hand_each_row_out_once(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    async with transaction(pool) as conn:
        ids = [await outbox.add(conn, "recheck_benefits", {"n": n}) for n in range(40)]
    handed = await asyncio.gather(
        outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60, limit=25),
        outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60, limit=25),
    )
    assert sum(handed) == 40
    assert await _queued(queue) == sorted(f"{NS}:outbox-{i}-1" for i in ids)


async def test_a_transient_failure_waits_then_comes_back(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    async with transaction(pool) as conn:
        row = await outbox.add(conn, "recheck_benefits", {})
    assert row is not None
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 1
    async with transaction(pool) as conn:
        await outbox.record_failure(conn, row, "payer unable to respond (AAA 42)", timedelta(0))
    # available again at once (retry_in 0), with a fresh job id
    later = NOW + timedelta(seconds=1)
    assert await outbox.relay(pool, queue, later, namespace=NS, visibility_s=60) == 1
    assert f"{NS}:outbox-{row}-2" in await _queued(queue)
