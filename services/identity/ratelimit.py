"""Login attempt limits in Redis, shared by every API process.

Each attempt is counted before the password is checked (INCR is atomic, so a burst of parallel
guesses cannot all slip under the limit); a successful login clears the account's count and
takes its own attempt back off the address's.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from services.core.errors import TooManyRequests


def _keys(namespace: str, email: str, address: str) -> tuple[str, str]:
    # Hash the email: Redis keys are not a place for personal data.
    account = hashlib.sha256(email.encode()).hexdigest()
    return f"{namespace}:login:fail:acct:{account}", f"{namespace}:login:fail:addr:{address}"


async def count_attempt(
    redis: Redis,
    namespace: str,
    email: str,
    address: str,
    *,
    per_account: int,
    per_address: int,
    window_s: int,
) -> None:
    """Count one attempt; raise 429 with Retry-After when either limit is exceeded."""
    account_key, address_key = _keys(namespace, email, address)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(account_key)
        pipe.expire(account_key, window_s, nx=True)
        pipe.incr(address_key)
        pipe.expire(address_key, window_s, nx=True)
        pipe.ttl(account_key)
        pipe.ttl(address_key)
        account_n, _, address_n, _, account_ttl, address_ttl = await pipe.execute()
    over = []
    if account_n > per_account:
        over.append(account_ttl)
    if address_n > per_address:
        over.append(address_ttl)
    if over:
        retry_after = max(1, max(over))
        raise TooManyRequests(
            "too many login attempts; try again later",
            headers={"Retry-After": str(retry_after)},
        )


async def clear_on_success(redis: Redis, namespace: str, email: str, address: str) -> None:
    account_key, address_key = _keys(namespace, email, address)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(account_key)
        pipe.decr(address_key)
        await pipe.execute()
