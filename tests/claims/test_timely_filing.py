"""Timely filing: the daily job flags claims near their payer's deadline once, across runs
and days; a rejection does not stop the clock; ops' queue lists them soonest first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from services.claims.service import flag_filing_deadlines
from services.core.clock import Clock
from services.core.db import create_pool
from services.core.settings import Settings
from tests.claims.world import ClaimWorld, claim_on, make_claim_world, move_claim
from workers.jobs.timely_filing import flag_timely_filing

TODAY = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)  # the cron's hour; deadlines = date + 90


@pytest.fixture
async def pool(committed_db: str) -> AsyncGenerator[asyncpg.Pool, None]:
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    yield pool
    await pool.close()


async def _arrange(db: asyncpg.Connection) -> tuple[ClaimWorld, dict[str, uuid.UUID]]:
    """Claims at a 90-day payer: their deadlines 4, 13, 9 and 43 days after TODAY."""
    w = await make_claim_world(db, timely_filing_days=90)
    claims = {
        "rejected": await claim_on(db, w, date(2026, 9, 1), w.payer.id),  # due 30 Nov
        "near": await claim_on(db, w, date(2026, 9, 10), w.payer.id),  # due 9 Dec
        "accepted": await claim_on(db, w, date(2026, 9, 6), w.payer.id),  # due 5 Dec
        "later": await claim_on(db, w, date(2026, 10, 10), w.payer.id),  # due 8 Jan
    }
    await move_claim(db, claims["rejected"], "submitted", "sent")
    await move_claim(db, claims["rejected"], "rejected", "277CA A3:21")
    await move_claim(db, claims["accepted"], "submitted", "sent")
    await move_claim(db, claims["accepted"], "accepted", "277CA A2:20")
    return w, claims


async def _flags(conn: asyncpg.Connection, claims: dict[str, uuid.UUID]) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT id, filing_flagged_at FROM claims WHERE id = ANY($1::uuid[])",
        list(claims.values()),
    )
    at = {r["id"]: r["filing_flagged_at"] for r in rows}
    return {name: at[claim_id] for name, claim_id in claims.items()}


async def test_the_job_flags_once_across_runs_and_days(
    pool: asyncpg.Pool, settings: Settings, clock: Clock
) -> None:
    clock.freeze(TODAY)
    async with pool.acquire() as conn, conn.transaction():
        _, claims = await _arrange(conn)
    ctx = {"pool": pool, "settings": settings}  # warn window: 30 days

    assert await flag_timely_filing(ctx) == {"flagged": 2}
    assert await flag_timely_filing(ctx) == {"flagged": 0}
    async with pool.acquire() as conn:
        first = await _flags(conn, claims)
    assert first == {"rejected": TODAY, "near": TODAY, "accepted": None, "later": None}

    # Two weeks on, the later claim is within 30 days; runs at once flag it once.
    clock.freeze(datetime(2026, 12, 10, 6, 30, tzinfo=UTC))
    runs = await asyncio.gather(*(flag_timely_filing(ctx) for _ in range(3)))
    assert sorted(r["flagged"] for r in runs) == [0, 0, 1]
    async with pool.acquire() as conn:
        second = await _flags(conn, claims)
    assert second == first | {"later": clock.now()}


def test_the_cron_entry_runs_daily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import WorkerSettings

    [job] = [c for c in WorkerSettings.cron_jobs if c.coroutine is flag_timely_filing]
    assert (job.hour, job.minute, job.unique, job.max_tries) == (6, 30, True, 1)


async def test_the_filing_deadline_queue_soonest_first_in_pages(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock
) -> None:
    clock.freeze(TODAY)
    w, claims = await _arrange(db)
    # Due the same day as "near": a page ends between the two, the cursor's id breaks the tie.
    twin = await claim_on(db, w, date(2026, 9, 10), w.payer.id)
    await flag_filing_deadlines(db, date(2026, 12, 10), 30)  # flags all but the accepted one
    twins = sorted([str(claims["near"]), str(twin)])
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            "/claims/queues/filing-deadline", params=params, headers=token(w.ops)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [(c["id"], c["filing_deadline"]) for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [
        (str(claims["rejected"]), "2026-11-30"),  # a rejection does not stop the clock
        (twins[0], "2026-12-09"),
        (twins[1], "2026-12-09"),
        (str(claims["later"]), "2027-01-08"),
    ]
    # The world's own two claims (service dates next week) are far from their deadlines.
    assert str(w.claims[0]) not in {claim_id for claim_id, _ in seen}
    # Accepted after being flagged: the 277CA is the proof, the claim leaves the queue.
    await move_claim(db, claims["near"], "submitted", "corrected")
    await move_claim(db, claims["near"], "accepted", "277CA A2:20")
    response = await client.get("/claims/queues/filing-deadline", headers=token(w.ops))
    assert [c["id"] for c in response.json()["items"]] == [
        str(claims["rejected"]),
        str(twin),
        str(claims["later"]),
    ]
