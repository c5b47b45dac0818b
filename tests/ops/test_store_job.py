"""The morning job stores yesterday's digest once: a second run, or two at once, keep the first;
the stored digests read back through the API (issue 16 item 8)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from services.core.auth import SYSTEM
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.ops.service import store_digest
from services.remittance.service import post_file, post_file_on
from tests.factories import make_ops
from tests.remittance import fixtures as f
from workers.jobs.ops import store_ops_digest


def _unmatched(trace: str, control: int) -> bytes:
    """A paid claim no claim of ours matches: a file that posts with no claim to build."""
    return f.interchange([f.transaction(f.PAID, trace=trace)], control=control).encode()


@pytest.fixture
async def ctx(committed_db: str, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    pool = await create_pool(committed_db, min_size=1, max_size=4)
    try:
        yield {
            "pool": pool,
            "settings": msgspec.structs.replace(settings, database_url=committed_db),
        }
    finally:
        await pool.close()


async def _stored(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT day, body, created_at FROM ops_digests ORDER BY day")


async def test_the_job_run_twice_stores_once_and_keeps_the_first(
    ctx: dict[str, Any], clock: Clock
) -> None:
    clock.freeze(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    await post_file(ctx["pool"], _unmatched("EFT0001", 101), "upload", SYSTEM)
    clock.freeze(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    assert await store_ops_digest(ctx) == {"day": "2026-11-26", "stored": True}
    # Later that day another file of the 26th would change the figures: the first stays.
    clock.freeze(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))
    await post_file(ctx["pool"], _unmatched("EFT0002", 102), "upload", SYSTEM)
    clock.freeze(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert await store_ops_digest(ctx) == {"day": "2026-11-26", "stored": False}
    (row,) = await _stored(ctx["pool"])
    assert row["day"] == date(2026, 11, 26)
    assert row["body"]["eras"]["files"] == 1
    assert row["body"]["generated_at"].startswith("2026-11-27T07:00:00")
    assert row["created_at"] == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


async def test_two_runs_at_once_store_one_digest(ctx: dict[str, Any], clock: Clock) -> None:
    clock.freeze(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    results = await asyncio.gather(store_ops_digest(ctx), store_ops_digest(ctx))
    assert sorted(r["stored"] for r in results) == [False, True]
    assert [r["day"] for r in await _stored(ctx["pool"])] == [date(2026, 11, 27)]
    async with transaction(ctx["pool"]) as conn:
        assert not await store_digest(conn, ctx["settings"], date(2026, 11, 27))


async def test_stored_digests_read_back_newest_first(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, settings: Settings,
    clock: Clock,
) -> None:  # fmt: skip
    ops = await make_ops(db)
    clock.freeze(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    await post_file_on(db, _unmatched("EFT0003", 103), "upload", ops)
    for day in (date(2026, 11, 24), date(2026, 11, 25)):
        clock.freeze(datetime(day.year, day.month, day.day + 1, 7, 0, tzinfo=UTC))
        assert await store_digest(db, settings, day)
    headers = token(ops)
    listed = await client.get("/ops/digests", params={"limit": "1"}, headers=headers)
    assert listed.status_code == 200, listed.text
    assert [d["day"] for d in listed.json()["items"]] == ["2026-11-25"]
    rest = await client.get(
        "/ops/digests", params={"cursor": listed.json()["next_cursor"]}, headers=headers
    )
    assert [d["day"] for d in rest.json()["items"]] == ["2026-11-24"]
    one = await client.get("/ops/digests/2026-11-25", headers=headers)
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["day"] == "2026-11-25"
    assert body["digest"]["eras"]["files"] == 1
    assert body["digest"]["review"]["remittance"] == {
        "needs_ops": 1, "unmatched": 1, "true_ups_in_review": 0, "refused_files": 0,
        "awaiting_correction": 0,
    }  # fmt: skip
    assert (await client.get("/ops/digests/2026-11-23", headers=headers)).status_code == 404
