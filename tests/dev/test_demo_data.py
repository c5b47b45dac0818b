"""The demo world loads once, through the services, and its logins work."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import msgspec
from redis.asyncio import Redis

from services.core.clock import Clock
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.dev.demo_data import (
    CLIENTS,
    DEMO_PASSWORD,
    OPS_EMAIL,
    PAYERS,
    PROVIDERS,
    load_demo_data,
)
from services.identity.service import login


async def test_demo_world_loads_once_and_everyone_can_log_in(
    committed_db: str, settings: Settings, redis: Redis, clock: Clock
) -> None:
    # Named dates need the clock on them: the world books sessions ahead of "today".
    clock.freeze(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    world = msgspec.structs.replace(settings, database_url=committed_db)
    assert await load_demo_data(world, today=date(2026, 11, 26)) is True
    assert await load_demo_data(world, today=date(2026, 11, 26)) is False

    conn = await asyncpg.connect(committed_db)
    try:
        roles = dict(await conn.fetch("SELECT role, count(*) FROM users GROUP BY role"))
        assert roles["ops"] == 1
        assert roles["provider"] == len(PROVIDERS)
        assert await conn.fetchval("SELECT count(*) FROM payers") == len(PAYERS)
        assert await conn.fetchval("SELECT count(*) FROM fee_schedules") == len(PAYERS) * 6
        statuses = dict(
            await conn.fetch("SELECT status, count(*) FROM credentialing_records GROUP BY status")
        )
        assert statuses == {"approved": 3, "in_review": 1, "denied": 1, "submitted": 1}
        assert roles["client"] == len(CLIENTS)
        assert await conn.fetchval("SELECT count(*) FROM insurance_policies") == len(CLIENTS)
        booked = await conn.fetchval("SELECT count(*) FROM therapy_sessions")
        assert booked == sum(1 for c in CLIENTS if c.provider) == 5
        dependant = await conn.fetchrow(
            "SELECT relationship, member_id, subscriber_first_name FROM insurance_policies p"
            " JOIN clients c ON c.id = p.client_id WHERE c.first_name = 'Alex'"
        )
        assert tuple(dependant) == ("child", "BHI200001", "Pat")
        client_emails = [f"{c.first_name}.{c.last_name}@hearth.test".lower() for c in CLIENTS]
        for email in [OPS_EMAIL, *(p.email for p in PROVIDERS), *client_emails]:
            tokens = await login(
                Transactions.within(conn), redis, world, email, DEMO_PASSWORD, "198.51.100.1"
            )
            assert tokens.access_token
    finally:
        await conn.close()
