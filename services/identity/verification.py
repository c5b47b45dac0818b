"""Self-signup without revealing who is registered: pending accounts, email verification, and
per-address limits on the public routes that cost an argon2 hash or guess a token.

A signup answers the same whatever the address: a new address becomes a pending user (its
password waits in `pending_password_hash`, so it cannot sign in) until the mailed token is
used; a registered address changes nothing and its owner is told by email. A pending signup
never blocks the real owner: a later signup replaces it (earlier tokens stop working), and ops
creating a client for the address claim it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Literal

import asyncpg
import msgspec
from redis.asyncio import Redis

from services.core import clock, ratelimit
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.identity import queries
from services.identity.errors import BadVerification
from services.identity.passwords import hash_password, verify_password

SignupStatus = Literal["new", "pending", "registered"]


class SignupUser(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    status: SignupStatus


def _token_hash(token: str) -> bytes:
    # 256 random bits: a fast hash is enough to store them.
    return hashlib.sha256(token.encode()).digest()


async def limit_address(
    redis: Redis, settings: Settings, action: str, address: str, max_hits: int
) -> None:
    """429 with Retry-After once `address` did `action` more than `max_hits` times this window."""
    await ratelimit.limit(
        redis,
        f"{settings.redis_namespace}:limit:{action}:addr:{address}",
        max_hits=max_hits,
        window_s=settings.account_limit_window_s,
        what=f"{action.replace('_', ' ')} attempts from this address",
    )


async def register_signup(
    conn: asyncpg.Connection, settings: Settings, email: str, password: str
) -> SignupUser:
    """The user a signup for `email` concerns, and whether it is new, pending or registered."""
    # Hashed on every path, registered addresses included: the answer's timing must not tell.
    pending_hash = await hash_password(
        password, settings.argon2_time_cost, settings.argon2_memory_kib
    )
    email = email.lower()
    now = clock.now()
    for _ in range(2):  # a concurrent signup may insert between the lookup and the insert
        found = await queries.lock_user_by_email(conn, email)
        if found is None:
            user_id = await queries.insert_pending_user(conn, email, "client", pending_hash, now)
            if user_id is not None:
                return SignupUser(user_id, "new")
            continue
        user_id, pending = found
        if not pending:
            return SignupUser(user_id, "registered")
        # Whoever signs up last chooses the password; only the mailbox's reader can use it.
        await queries.update_pending_signup(conn, user_id, pending_hash, now)
        await queries.update_expire_email_verifications(conn, user_id, now)
        return SignupUser(user_id, "pending")
    found = await queries.lock_user_by_email(conn, email)
    assert found is not None  # the insert lost to a row that now exists
    return SignupUser(found[0], "pending" if found[1] else "registered")


async def claim_pending_user(conn: asyncpg.Connection, email: str) -> uuid.UUID | None:
    """Ops create an account for `email`: a pending signup for it is taken over (its password
    and tokens dropped) rather than refusing the real owner. None: no pending signup."""
    found = await queries.lock_user_by_email(conn, email.lower())
    if found is None or not found[1]:
        return None
    now = clock.now()
    await queries.update_end_pending(conn, found[0], now, keep_password=False)
    await queries.update_expire_email_verifications(conn, found[0], now)
    return found[0]


async def create_email_verification(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID
) -> str | None:
    """A new single-use token for a pending user (stored hashed); None if no longer pending."""
    if not await queries.lock_pending(conn, user_id):
        return None
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + timedelta(seconds=settings.email_verification_ttl_s)
    await queries.insert_email_verification(conn, user_id, _token_hash(token), now, expires_at)
    return token


async def check_verification_password(
    transactions: Transactions, settings: Settings, token: str, password: str
) -> tuple[bytes, str | None]:
    """Check a verification token and the signup's password; the token's hash and the password
    hash checked, for use_email_verification.

    Both are needed: the token proves the mailbox, the password proves this is the signup the
    mailbox's owner made. Otherwise a stranger could sign up with someone's address, and the
    owner, following the link, would activate an account whose password the stranger knows.
    The password is checked with nothing held, after one short transaction.
    """
    token_hash = _token_hash(token)
    async with transactions() as conn:
        _, _, pending_hash = await _valid_verification(conn, token_hash)
    if not await verify_password(
        pending_hash, password, settings.argon2_time_cost, settings.argon2_memory_kib
    ):
        # The token stays usable: a mistyped password must not cost the owner their link.
        raise BadVerification("the password is not the one chosen at signup", field="password")
    return token_hash, pending_hash


async def use_email_verification(
    conn: asyncpg.Connection, token_hash: bytes, checked_hash: str | None
) -> uuid.UUID:
    """Spend the token checked by check_verification_password: the signup's password becomes
    the account's. Checks again that the token and the password are still the ones checked."""
    verification_id, user_id, still = await _valid_verification(conn, token_hash)
    if still != checked_hash:
        # A later signup chose another password meanwhile.
        raise BadVerification("the password is not the one chosen at signup", field="password")
    now = clock.now()
    await queries.update_end_pending(conn, user_id, now, keep_password=True)
    await queries.update_email_verification_used(conn, verification_id, now)
    await queries.update_expire_email_verifications(conn, user_id, now)
    return user_id


async def _valid_verification(
    conn: asyncpg.Connection, token_hash: bytes
) -> tuple[uuid.UUID, uuid.UUID, str | None]:
    """The unused, unexpired verification, its pending user (both locked) and the signup's
    password hash; 401 otherwise."""
    found = await queries.lock_email_verification(conn, token_hash)
    if found is None or found[3] is not None or found[2] <= clock.now():
        raise BadVerification("verification token is not valid or has expired", field="token")
    verification_id, user_id, _, _ = found
    if not await queries.lock_pending(conn, user_id):
        raise BadVerification("verification token is not valid or has expired", field="token")
    return verification_id, user_id, await queries.get_pending_password_hash(conn, user_id)


async def get_email(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    user = await queries.get_user(conn, user_id)
    return None if user is None else user.email
