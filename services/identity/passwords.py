"""argon2id hashing, run off the event loop (a check costs ~100 ms by design)."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    # Verified against when the email is unknown, so both answers take the same time.
    return _hasher(time_cost, memory_kib).hash("not-a-real-password-0000")


def needs_rehash(password_hash: str, time_cost: int, memory_kib: int) -> bool:
    """The hash was made with other parameters (or is not an argon2id hash we can read)."""
    try:
        return _hasher(time_cost, memory_kib).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str, time_cost: int, memory_kib: int) -> str:
    return await asyncio.to_thread(_hasher(time_cost, memory_kib).hash, password)


async def verify_password(
    password_hash: str | None, password: str, time_cost: int, memory_kib: int
) -> bool:
    hasher = _hasher(time_cost, memory_kib)
    target = password_hash or _dummy_hash(time_cost, memory_kib)

    def check() -> bool:
        try:
            return hasher.verify(target, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
