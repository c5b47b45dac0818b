"""A rate-limit hit is one Redis command, and survives a server that forgot the script."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from redis.asyncio import Redis

from services.core import ratelimit


class _Recording(Redis):
    """A real client that notes the name of every command it sends."""

    sent: list[str]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(str(args[0]).upper())
        return await super().execute_command(*args, **options)


@pytest.fixture
async def recording(
    redis_url: str, redis_namespace: str
) -> AsyncGenerator[tuple[_Recording, str], None]:
    redis = _Recording.from_url(redis_url)
    redis.sent = []
    key = f"{redis_namespace}:test-hit:{uuid.uuid4().hex}"
    try:
        yield redis, key
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_a_hit_is_one_command_and_counts_within_its_window(
    recording: tuple[_Recording, str],
) -> None:
    redis, key = recording
    first = await ratelimit.hit(redis, key, 60)
    second = await ratelimit.hit(redis, key, 60, amount=3)
    assert (first.n, second.n) == (1, 4)
    assert 0 < second.ttl_s <= 60
    assert redis.sent == ["EVALSHA", "EVALSHA"]


async def test_a_hit_loads_the_script_when_the_server_lacks_it(
    recording: tuple[_Recording, str],
) -> None:
    redis, key = recording
    await redis.script_flush()
    redis.sent.clear()
    assert (await ratelimit.hit(redis, key, 60)).n == 1
    assert redis.sent == ["EVALSHA", "EVAL"]
    assert (await ratelimit.hit(redis, key, 60)).n == 2
    assert redis.sent[-1] == "EVALSHA"
    assert await redis.ttl(key) > 0  # the window always expires
