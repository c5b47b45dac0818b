"""The outbox relay hands each due row to arq once, again after the visibility timeout, and
never a completed row; two relays at once hand out each row once. Payloads are Structs, encoded
into the row and decoded by the job; a row that does not decode is failed, not retried."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import asyncpg
import msgspec
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from schemas.benefit_checks import RecheckJob
from schemas.claims import FetchClaimResultsJob, SubmitClaimsJob
from schemas.clients import AccountEmailJob
from services.core import outbox
from services.core.clock import Clock
from services.core.db import create_pool as create_pg_pool
from services.core.db import transaction

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NS = f"outbox-test-{uuid.uuid4().hex[:8]}"


class Ping(msgspec.Struct, frozen=True, kw_only=True):
    job: ClassVar[str] = "ping"
    n: int = 0


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
        first = await outbox.add(conn, Ping(n=1))
        second = await outbox.add(conn, Ping(n=2))
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 2
    assert await _queued(queue) == [f"{NS}:outbox-{first}-1", f"{NS}:outbox-{second}-1"]
    # Within the visibility timeout: nothing more.
    assert await _relay(pool, queue, NOW + timedelta(seconds=30)) == 0
    # One job finished; the other's worker died: only that one comes back, with a new job id.
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, first, Ping) == Ping(n=1)  # type: ignore[arg-type]
        await outbox.complete(conn, first)  # type: ignore[arg-type]
    assert await _relay(pool, queue, NOW + timedelta(seconds=61)) == 1
    assert f"{NS}:outbox-{second}-2" in await _queued(queue)
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, first, Ping) is None  # type: ignore[arg-type]


async def test_a_dedupe_key_queues_the_same_work_once_until_it_is_done(
    pool: asyncpg.Pool,
) -> None:
    async with transaction(pool) as conn:
        first = await outbox.add(conn, Ping(), dedupe_key="policy-1")
        again = await outbox.add(conn, Ping(), dedupe_key="policy-1")
        assert first is not None
        assert again is None
        await outbox.complete(conn, first)
        assert await outbox.add(conn, Ping(), dedupe_key="policy-1") is not None


async def test_two_relays_at_once_hand_each_row_out_once(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    async with transaction(pool) as conn:
        ids = [await outbox.add(conn, Ping(n=n)) for n in range(40)]
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
        row = await outbox.add(conn, Ping())
    assert row is not None
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 1
    async with transaction(pool) as conn:
        await outbox.record_failure(conn, row, "payer unable to respond (AAA 42)", timedelta(0))
    # available again at once (retry_in 0), with a fresh job id
    later = NOW + timedelta(seconds=1)
    assert await outbox.relay(pool, queue, later, namespace=NS, visibility_s=60) == 1
    assert f"{NS}:outbox-{row}-2" in await _queued(queue)


async def test_a_payload_is_stored_as_json_of_its_fields_and_decoded_typed(
    pool: asyncpg.Pool,
) -> None:
    # The recheck job's payload, as today's rows hold it: "" for the platform.
    policy_id = uuid.uuid4()
    async with transaction(pool) as conn:
        row = await outbox.add(conn, RecheckJob.of(policy_id, None))
        stored = await conn.fetchrow("SELECT job, payload FROM outbox WHERE id = $1", row)
        assert dict(stored) == {
            "job": "recheck_benefits",
            "payload": {"policy_id": str(policy_id), "provider_id": ""},
        }
        job = await outbox.lock(conn, row, RecheckJob)  # type: ignore[arg-type]
    assert job is not None
    assert (job.policy_id, job.provider) == (policy_id, None)


@pytest.mark.parametrize(
    "payload",
    [{"n": "one"}, {"n": None}, ["n"], "n", None],
)
async def test_a_malformed_payload_fails_its_row_with_the_reason_once(
    pool: asyncpg.Pool, queue: ArqRedis, payload: object
) -> None:
    async with transaction(pool) as conn:
        row = await conn.fetchval(
            "INSERT INTO outbox (job, payload, created_at, available_at)"
            " VALUES ('ping', $1::text::jsonb, $2, $2) RETURNING id",
            json.dumps(payload),
            NOW,
        )
    assert await _relay(pool, queue, NOW) == 1
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, row, Ping) is None
    done = await pool.fetchrow(
        "SELECT completed_at, failed_at, last_error FROM outbox WHERE id = $1", row
    )
    assert done["completed_at"] == done["failed_at"] == NOW
    assert done["last_error"].startswith("malformed ping payload: ")
    # Failed is finished: never handed out again, and a second run of its job does nothing.
    assert await _relay(pool, queue, NOW + timedelta(hours=1)) == 0
    async with transaction(pool) as conn:
        assert await outbox.lock(conn, row, Ping) is None
    assert (
        await pool.fetchval("SELECT last_error FROM outbox WHERE id = $1", row)
        == (done["last_error"])
    )


def test_every_payload_names_a_job_the_worker_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker module reads its settings on import, and they need an explicit environment.
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import WorkerSettings

    # A plain coroutine function, or arq's func() wrapper (a job with its own timeout).
    functions = {getattr(f, "name", None) or f.__name__ for f in WorkerSettings.functions}
    jobs = {RecheckJob.job, AccountEmailJob.job, SubmitClaimsJob.job, FetchClaimResultsJob.job}
    assert jobs <= functions


async def _add_pings(pool: asyncpg.Pool, count: int) -> None:
    async with transaction(pool) as conn:
        await outbox.add_many(conn, [(Ping(n=n), None) for n in range(count)])


async def test_one_call_drains_full_batches_within_its_budget(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    await _add_pings(pool, 1_000)
    # Batches of 200, each its own transaction, until one comes back short.
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60, budget_s=20) == 1_000
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM outbox ORDER BY id")]
    assert await _queued(queue) == sorted(f"{NS}:outbox-{i}-1" for i in ids)
    marks = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE attempts = 1) AS once, min(enqueued_at) AS first,"
        " max(enqueued_at) AS last FROM outbox"
    )
    assert marks["once"] == 1_000
    # Each batch stamped with the call's time plus what it had spent: never before it began.
    assert NOW <= marks["first"] <= marks["last"] < NOW + timedelta(seconds=20)
    assert await _relay(pool, queue, NOW + timedelta(seconds=30)) == 0


async def test_without_a_budget_a_call_hands_out_one_batch(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    await _add_pings(pool, 250)
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 200
    assert await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60) == 50


async def test_two_draining_relays_hand_each_row_out_once(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    await _add_pings(pool, 1_000)
    handed = await asyncio.gather(*(
        outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60, limit=50, budget_s=20)
        for _ in range(2)
    ))  # fmt: skip
    assert sum(handed) == 1_000
    assert len(await _queued(queue)) == 1_000
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE attempts <> 1") == 0


class SlowQueue:
    """arq's queue, each hand-out taking `delay_s` longer (a slow Redis)."""

    def __init__(self, queue: ArqRedis, delay_s: float) -> None:
        self.queue, self.delay_s = queue, delay_s

    async def enqueue_job(self, function: str, *args: object, _job_id: str | None = None) -> object:
        await asyncio.sleep(self.delay_s)
        return await self.queue.enqueue_job(function, *args, _job_id=_job_id)


async def test_the_budget_ends_a_call_and_the_next_takes_the_rest(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    await _add_pings(pool, 100)
    slow = SlowQueue(queue, 0.05)
    first = await outbox.relay(pool, slow, NOW, namespace=NS, visibility_s=60, limit=5,
                               budget_s=0.12)  # fmt: skip
    # The first batch always runs; a batch begins only before 0.12 s have passed and each takes
    # >= 0.05 s, so at most three do (however slow the machine), never all 20.
    assert 5 <= first <= 15
    assert first % 5 == 0
    rest = await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=60, budget_s=20)
    assert first + rest == 100
    assert len(await _queued(queue)) == 100


async def test_a_budget_as_long_as_the_visibility_timeout_is_refused(
    pool: asyncpg.Pool, queue: ArqRedis
) -> None:
    with pytest.raises(ValueError, match="visibility"):
        await outbox.relay(pool, queue, NOW, namespace=NS, visibility_s=20, budget_s=20)
