"""`bench outbox_relay`: rows handed from the outbox to arq per second by one relay call (as one
cron tick makes it: batches of 200 while they come back full, within the tick's 20 s budget),
beside the bare arq enqueue of as many jobs at the relay's concurrency (no PostgreSQL).

The world (infra gives a fresh database, migrated here, and its Redis):
HEARTH_BENCH_OUTBOX_ROWS (10,000) due outbox rows, relayed into a queue of the bench's own (its
keys deleted afterwards). The bench exits non-zero unless every row was handed out once, with
its job queued under the attempt-1 id.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import ClassVar

import asyncpg
import msgspec
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from services.core import clock, outbox
from services.core.db import create_pool as create_pg_pool
from services.core.db import transaction
from services.core.migrations import migrate
from services.core.outbox import TICK_BUDGET_S

BASELINE = "arq_enqueue"
VISIBILITY_S = 90


class BenchJob(msgspec.Struct, frozen=True, kw_only=True):
    job: ClassVar[str] = "bench_job"
    n: int


async def _clean(arq: ArqRedis, namespace: str) -> None:
    keys = [k async for k in arq.scan_iter(match=f"arq:job:{namespace}:*", count=1000)]
    for first in range(0, len(keys), 1000):
        await arq.delete(*keys[first : first + 1000])
    await arq.delete(f"{namespace}:queue")


async def _relayed(
    pool: asyncpg.Pool, arq: ArqRedis, namespace: str, rows: int
) -> tuple[float, int]:
    """(seconds, calls): the rows written, then relayed by calls as a tick makes them."""
    async with transaction(pool) as conn:
        await outbox.add_many(conn, [(BenchJob(n=n), None) for n in range(rows)])
    started, handed, calls = time.perf_counter(), 0, 0
    while handed < rows:
        handed += await outbox.relay(pool, arq, clock.now(), namespace=namespace,
                                     visibility_s=VISIBILITY_S, budget_s=TICK_BUDGET_S)  # fmt: skip
        calls += 1
    seconds = time.perf_counter() - started
    queued = await arq.zcard(f"{namespace}:queue")
    once = await pool.fetchval("SELECT count(*) FROM outbox WHERE attempts = 1")
    if (handed, queued, once) != (rows, rows, rows):
        raise SystemExit(f"relayed {handed}, queued {queued}, handed once {once} of {rows}")
    return seconds, calls


async def _bare(arq: ArqRedis, namespace: str, rows: int) -> float:
    """The same number of jobs enqueued straight into arq, as many at once as the relay."""
    gate = asyncio.Semaphore(outbox.ENQUEUE_CONCURRENCY)

    async def one(n: int) -> None:
        async with gate:
            await arq.enqueue_job("bench_job", n, _job_id=f"{namespace}:bare-{n}")

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(rows)))
    return time.perf_counter() - started


async def _run(database_url: str, redis_url: str, rows: int) -> tuple[float, int, float]:
    await migrate(database_url)
    relay_ns, bare_ns = (f"bench-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("relay", "bare"))
    redis = RedisSettings.from_dsn(redis_url)
    pool = await create_pg_pool(database_url, min_size=1, max_size=4)
    relay_q = await create_pool(redis, default_queue_name=f"{relay_ns}:queue")
    bare_q = await create_pool(redis, default_queue_name=f"{bare_ns}:queue")
    try:
        seconds, calls = await _relayed(pool, relay_q, relay_ns, rows)
        bare = await _bare(bare_q, bare_ns, rows)
        return seconds, calls, bare
    finally:
        await _clean(relay_q, relay_ns)
        await _clean(bare_q, bare_ns)
        await relay_q.aclose()
        await bare_q.aclose()
        await pool.close()


def main() -> None:
    rows = int(os.environ.get("HEARTH_BENCH_OUTBOX_ROWS", "10000"))
    database_url, redis_url = (
        os.environ.get("BENCH_DATABASE_URL"),
        os.environ.get("BENCH_REDIS_URL"),
    )
    if not (database_url and redis_url):
        raise SystemExit(
            "BENCH_DATABASE_URL not set: run it through `python -m infra.bench outbox_relay`"
        )
    seconds, calls, bare = asyncio.run(_run(database_url, redis_url, rows))
    per_s, bare_per_s = rows / seconds, rows / bare
    print(
        f"bench outbox_relay rows_per_s={per_s:.0f} rows={rows} calls={calls}"
        f" seconds={seconds:.2f} budget_s={TICK_BUDGET_S:.0f} baseline={BASELINE}"
        f" baseline_per_s={bare_per_s:.0f} ratio={seconds / bare:.3f}"
    )
    print(f"bench outbox_relay_baseline name={BASELINE} per_s={bare_per_s:.0f}")


if __name__ == "__main__":
    main()
