"""Two bookings of one client with one provider at the same moment issue one estimate."""

from __future__ import annotations

import asyncio

from schemas.therapy_sessions import BookSessionIn
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.therapy_sessions.service import book_session
from tests.factories import future
from tests.good_faith.helpers import self_pay_parties


async def test_two_bookings_at_once_issue_one_estimate(
    committed_db: str, settings: Settings
) -> None:
    pool = await create_pool(committed_db, min_size=2, max_size=2)
    try:
        async with transaction(pool) as conn:
            ops, _, me, provider_id = await self_pay_parties(conn, settings, cpt_90834=14000)

        async def book(hour: int) -> None:
            # The same day: an earlier day would rightly make a new version starting there.
            data = BookSessionIn(
                provider_id=provider_id, client_id=me.client_id,
                starts_at=future(7).replace(hour=hour, minute=0, second=0),
                duration_minutes=45, place_of_service="10",
            )  # fmt: skip
            async with transaction(pool) as conn:
                await book_session(conn, ops, data)

        await asyncio.gather(book(10), book(12))
        assert await pool.fetchval("SELECT count(*) FROM therapy_sessions") == 2
        assert await pool.fetchval("SELECT count(*) FROM good_faith_estimates") == 1
        jobs = "SELECT count(*) FROM outbox WHERE job = 'send_good_faith_estimate'"
        assert await pool.fetchval(jobs) == 1
    finally:
        await pool.close()
