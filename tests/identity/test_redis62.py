"""The login limits on Redis 6.2, the server `make run` embeds on a machine without Redis.

The suite's own Redis is this machine's 7.x, which accepts 7.0-only commands: `EXPIRE ... NX`
passed every test here and answered every login on the embedded server with a 500.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest
from redis.asyncio import Redis

from services.core import ratelimit
from services.core.errors import TooManyRequests
from services.core.settings import Settings
from services.identity.ratelimit import clear_login_success, count_login_attempt
from services.identity.service import create_user
from tests.conftest import _test_conn
from tests.servers import Redis62, serve_app

PASSWORD = "correct horse battery"


async def test_the_embedded_redis_is_6_2(redis62: Redis62) -> None:
    assert redis62.version().startswith("6.2.")


async def test_login_limits_on_redis_6_2(redis62: Redis62, settings: Settings) -> None:
    client = Redis.from_url(redis62.url)
    try:
        limits = msgspec.structs.replace(
            settings, login_account_free_attempts=2, login_account_delay_base_s=30
        )
        email = "someone@example.test"
        for _ in range(2):
            await count_login_attempt(client, limits, email, "192.0.2.1")
        await count_login_attempt(client, limits, email, "192.0.2.2")  # takes the gate
        with pytest.raises(TooManyRequests) as refused:
            await count_login_attempt(client, limits, email, "192.0.2.3")
        assert 0 < int(refused.value.headers["Retry-After"]) <= 30
        await clear_login_success(client, limits, email, "192.0.2.2")
        await count_login_attempt(client, limits, email, "192.0.2.2")  # a known address now
        count = await ratelimit.limit(client, "k", max_hits=1, window_s=60, what="things")
        assert (count.n, 0 < count.ttl_s <= 60) == (1, True)
        assert (await ratelimit.peek(client, "k")).n == 1
    finally:
        await client.aclose()


async def test_a_login_through_the_app_on_redis_6_2(
    redis62: Redis62, settings: Settings, db: asyncpg.Connection
) -> None:
    email = f"r62-{uuid.uuid4().hex[:10]}@example.test"
    await create_user(db, settings, email, "ops", PASSWORD)
    embedded = msgspec.structs.replace(settings, redis_url=redis62.url)
    async with serve_app(embedded, conn_provider=_test_conn) as client:
        ok = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert ok.status_code == 200, ok.text
        for _ in range(settings.login_max_failures_per_pair):
            body = {"email": email, "password": "wrong password here"}
            assert (await client.post("/auth/login", json=body)).status_code == 401
        limited = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
