"""Races on committed data: two transitions on one record, and the expiry job run twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.credentialing import CredentialingIn, TransitionIn
from services.core import clock
from services.core.clock import Clock
from services.core.db import create_pool
from services.core.settings import Settings
from services.credentialing.errors import InvalidTransition
from services.credentialing.service import (
    EXPIRY_REASON,
    is_credentialed,
    request_credentialing,
    transition,
)
from tests.factories import make_ops, make_payer, make_provider
from workers.jobs.credentialing import expire_credentialing


@pytest.fixture
async def pool(committed_db: str) -> AsyncGenerator[asyncpg.Pool, None]:
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    yield pool
    await pool.close()


async def _record(pool: asyncpg.Pool, settings: Settings, steps: list[TransitionIn]) -> Any:
    async with pool.acquire() as conn, conn.transaction():
        ops = await make_ops(conn)
        provider = await make_provider(conn, settings, ops)
        assert provider.provider_id is not None
        record = await request_credentialing(
            conn,
            ops,
            CredentialingIn(provider_id=provider.provider_id, payer_id=(await make_payer(conn)).id),
        )
        for step in steps:
            await transition(conn, ops, record.id, step)
    return ops, record.id


def _to(status: str, **dates: date) -> TransitionIn:
    return TransitionIn(to_status=status, reason=f"to {status}", **dates)  # type: ignore[arg-type]


async def test_two_concurrent_transitions_serialize_and_one_wins(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    ops, record_id = await _record(pool, settings, [_to("submitted"), _to("in_review")])
    approve = _to("approved", effective_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    deny = _to("denied")
    first = await pool.acquire()
    second = await pool.acquire()
    try:
        tx = first.transaction()
        await tx.start()
        await transition(first, ops, record_id, approve)

        async def racer() -> Any:
            async with second.transaction():
                return await transition(second, ops, record_id, deny)

        loser = asyncio.create_task(racer())
        await asyncio.sleep(0.3)
        assert not loser.done(), "the second transition must wait for the row lock"
        await tx.commit()
        with pytest.raises(InvalidTransition) as refused:
            await loser
        assert "from approved to denied" in refused.value.detail
    finally:
        await pool.release(first)
        await pool.release(second)
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT status FROM credentialing_records WHERE id = $1", record_id)
            == "approved"
        )
        events = await conn.fetch(
            "SELECT to_status FROM credentialing_events WHERE record_id = $1 ORDER BY id", record_id
        )
        assert [e["to_status"] for e in events] == [
            "requested",
            "submitted",
            "in_review",
            "approved",
        ]


async def test_two_racing_gathers_on_one_record_leave_one_event(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    ops, record_id = await _record(pool, settings, [])

    async def submit() -> str:
        async with pool.acquire() as conn, conn.transaction():
            try:
                await transition(conn, ops, record_id, _to("submitted"))
            except InvalidTransition:
                return "refused"
            return "moved"

    outcomes = await asyncio.gather(*(submit() for _ in range(5)))
    assert sorted(outcomes) == ["moved"] + ["refused"] * 4
    async with pool.acquire() as conn:
        count = await conn.fetchval(
            """
            SELECT count(*) FROM credentialing_events
            WHERE record_id = $1 AND to_status = 'submitted'
            """,
            record_id,
        )
        assert count == 1


async def _approved_ending(pool: asyncpg.Pool, settings: Settings, ends_on: date) -> uuid.UUID:
    steps = [
        _to("submitted"),
        _to("in_review"),
        _to("approved", effective_on=ends_on - timedelta(days=365), ends_on=ends_on),
    ]
    return (await _record(pool, settings, steps))[1]


async def test_expiry_job_twice_and_concurrently_changes_things_once(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    today = clock.today()
    ended = await _approved_ending(pool, settings, today - timedelta(days=1))
    ending = await _approved_ending(pool, settings, today + timedelta(days=30))
    far = await _approved_ending(pool, settings, today + timedelta(days=200))
    ctx = {"pool": pool, "settings": settings}

    runs = await asyncio.gather(*(expire_credentialing(ctx) for _ in range(3)))
    assert sorted(r["expired"] for r in runs) == [0, 0, 1]
    assert sorted(r["warned"] for r in runs) == [0, 0, 1]
    assert await expire_credentialing(ctx) == {"expired": 0, "warned": 0}

    async with pool.acquire() as conn:
        rows = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT id, status, expiry_warned_at FROM credentialing_records"
            )
        }
        assert rows[ended]["status"] == "expired"
        assert rows[ending]["status"] == "approved"
        assert rows[ending]["expiry_warned_at"] is not None
        assert rows[far]["expiry_warned_at"] is None
        events = await conn.fetch(
            """
            SELECT record_id, actor_user_id, reason FROM credentialing_events
            WHERE to_status = 'expired'
            """
        )
        assert [(e["record_id"], e["actor_user_id"], e["reason"]) for e in events] == [
            (ended, None, EXPIRY_REASON)
        ]


def test_the_cron_entry_runs_daily_at_six_and_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker module reads its settings on import, and they need an explicit environment.
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import WorkerSettings

    [job] = [c for c in WorkerSettings.cron_jobs if c.coroutine is expire_credentialing]
    assert (job.hour, job.minute, job.unique) == (6, 0, True)


async def test_an_approval_ending_on_29_february(
    pool: asyncpg.Pool, settings: Settings, clock: Clock
) -> None:
    """Billable through the leap day itself; the 06:00 cron expires it on 1 March, not before."""
    leap_day = date(2028, 2, 29)
    clock.freeze(datetime(2028, 1, 10, 6, 0, tzinfo=UTC))
    _, record_id = await _record(
        pool,
        settings,
        [
            _to("submitted"),
            _to("in_review"),
            _to("approved", effective_on=date(2027, 3, 1), ends_on=leap_day),
        ],
    )
    async with pool.acquire() as conn:
        record = await conn.fetchrow(
            "SELECT provider_id, payer_id FROM credentialing_records WHERE id = $1", record_id
        )
        for day, billable in [
            (date(2028, 2, 28), True),
            (leap_day, True),
            (date(2028, 3, 1), False),
        ]:
            covered = await is_credentialed(conn, record["provider_id"], record["payer_id"], day)
            assert covered is billable, day
    ctx = {"pool": pool, "settings": settings}
    clock.freeze(datetime(2028, 2, 28, 6, 0, tzinfo=UTC))
    assert await expire_credentialing(ctx) == {"expired": 0, "warned": 1}  # within 60 days
    clock.freeze(datetime(2028, 2, 29, 6, 0, tzinfo=UTC))
    assert await expire_credentialing(ctx) == {"expired": 0, "warned": 0}
    clock.freeze(datetime(2028, 3, 1, 6, 0, tzinfo=UTC))
    assert await expire_credentialing(ctx) == {"expired": 1, "warned": 0}
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT status, expiry_warned_at FROM credentialing_records WHERE id = $1", record_id
        )
        expired_at = await conn.fetchval(
            "SELECT at FROM credentialing_events WHERE record_id = $1 AND to_status = 'expired'",
            record_id,
        )
    assert row["status"] == "expired"
    # Stamped from the clock, like the job's notion of today.
    assert row["expiry_warned_at"] == datetime(2028, 2, 28, 6, 0, tzinfo=UTC)
    assert expired_at == datetime(2028, 3, 1, 6, 0, tzinfo=UTC)
