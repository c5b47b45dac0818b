"""Use cases of identity: log in, refresh, log out, invitations, passwords."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg
import msgspec
from redis.asyncio import Redis

from schemas.identity import InviteRow, MeOut, TokenPair, UserRow, UserStatusOut
from services.core import audit, clock
from services.core.auth import Actor, Role, TokenClaims, issue_access_token
from services.core.errors import NotFound, Unauthorized
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.identity import queries, ratelimit
from services.identity.errors import CannotDisableSelf, EmailTaken, RefreshReuse
from services.identity.passwords import hash_password, needs_rehash, verify_password
from services.identity.verification import check_verification_password, use_email_verification

# The signup steps the clients domain runs (signup, ops claiming a pending signup).
from services.identity.verification import claim_pending_user as claim_pending_user
from services.identity.verification import create_email_verification as create_email_verification
from services.identity.verification import get_email as get_email
from services.identity.verification import limit_address as limit_address
from services.identity.verification import register_signup as register_signup


def _token_hash(token: str) -> bytes:
    # Refresh and invite tokens carry 256 random bits: a fast hash is enough to store them.
    return hashlib.sha256(token.encode()).digest()


def _actor(user: UserRow) -> Actor:
    return Actor(
        user_id=user.id, role=user.role, provider_id=user.provider_id, client_id=user.client_id
    )


async def _issue(
    conn: asyncpg.Connection, user: UserRow, settings: Settings, family_id: uuid.UUID | None = None
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    family_id = family_id or uuid.uuid4()
    await queries.insert_refresh_token(
        conn,
        user.id,
        family_id,
        _token_hash(refresh),
        clock.now() + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    # The access token names its refresh family, so logging that family out ends it too.
    access = issue_access_token(
        _actor(user), settings, version=user.token_version, session_id=family_id
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_s,
    )


async def create_user(
    conn: asyncpg.Connection, settings: Settings, email: str, role: Role, password: str | None
) -> uuid.UUID:
    """A new user; without a password they sign in only after accepting an invitation."""
    password_hash = (
        await hash_password(password, settings.argon2_time_cost, settings.argon2_memory_kib)
        if password is not None
        else None
    )
    user_id = await queries.insert_user(conn, email.lower(), role, password_hash)
    if user_id is None:
        raise EmailTaken("a user with this email already exists", field="email")
    return user_id


async def issue_tokens(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID
) -> TokenPair:
    """Sign a user in right after creating them (a signup answers with tokens)."""
    user = await queries.get_user(conn, user_id)
    if user is None:
        raise NotFound("user not found")
    return await _issue(conn, user, settings)


async def verify_email(
    transactions: Transactions, settings: Settings, token: str, password: str
) -> TokenPair:
    """Use a signup's verification token with its password (verification.py), then sign in:
    the password is checked with nothing held, then spent and signed in in one transaction."""
    token_hash, checked = await check_verification_password(transactions, settings, token, password)
    async with transactions() as conn:
        user_id = await use_email_verification(conn, token_hash, checked)
        return await issue_tokens(conn, settings, user_id)


async def create_invite(
    conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID, created_by: uuid.UUID | None
) -> tuple[str, datetime]:
    """A single-use token the user exchanges for a password; earlier ones stop working."""
    token = secrets.token_urlsafe(32)
    expires_at = clock.now() + timedelta(seconds=settings.invite_ttl_s)
    await queries.update_expire_invites(conn, user_id)
    await queries.insert_invite(conn, user_id, _token_hash(token), created_by, expires_at)
    return token, expires_at


async def login(
    transactions: Transactions,
    redis: Redis,
    settings: Settings,
    email: str,
    password: str,
    address: str,
) -> TokenPair:
    """Nothing is held across the limiter or argon2: the user is read in one short transaction,
    the password checked (and rehashed if its parameters are old) with no connection held, and
    the tokens written in a second one, which first makes sure the password checked is still
    the user's (no change in between).
    """
    email = email.lower()
    await ratelimit.count_login_attempt(redis, settings, email, address)
    async with transactions() as conn:
        user = await queries.get_user_by_email(conn, email)
    ok = await verify_password(
        user.password_hash if user else None,
        password,
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
    )
    if user is None or not ok or user.disabled_at is not None:
        raise _bad_credentials()
    rehashed = await _rehash(settings, user.password_hash, password)
    async with transactions() as conn:
        current = await queries.lock_user(conn, user.id)
        if current is None or not _unchanged(user, current):
            # Changed (or disabled) meanwhile: the password checked may be the old one.
            raise _bad_credentials()
        if rehashed is not None and user.password_hash is not None:
            # Only over the hash checked: a concurrent login's rehash is as good as this one.
            await queries.update_password_hash(conn, user.id, user.password_hash, rehashed)
        tokens = await _issue(conn, current, settings)
    await ratelimit.clear_login_success(redis, settings, email, address)
    return tokens


def _bad_credentials() -> Unauthorized:
    return Unauthorized("email or password is wrong", code="bad_credentials")


def _unchanged(checked: UserRow, current: UserRow) -> bool:
    """The user locked for the write still has the password that was checked, and is active.

    Every password change bumps the token version; a rehash (another login's) does not, and
    must not fail this one.
    """
    return current.disabled_at is None and current.token_version == checked.token_version


async def _rehash(settings: Settings, old: str | None, password: str) -> str | None:
    """After a successful check only (we hold the right password): a hash under the current
    argon2 parameters, when the stored one was made with others; None when it needs none."""
    if old is None or not needs_rehash(old, settings.argon2_time_cost, settings.argon2_memory_kib):
        return None
    return await hash_password(password, settings.argon2_time_cost, settings.argon2_memory_kib)


async def refresh(conn: asyncpg.Connection, settings: Settings, token: str) -> TokenPair:
    row = await queries.lock_refresh_token(conn, _token_hash(token))
    if row is None:
        raise Unauthorized("refresh token is not valid", code="bad_refresh_token")
    if row.used_at is not None or row.revoked_at is not None:
        # A spent token came back: someone holds a copy. End every session of the family;
        # RefreshReuse keeps this write although the request answers 401.
        await queries.update_revoke_family(conn, row.family_id)
        raise RefreshReuse("refresh token was already used; sign in again")
    if row.expires_at <= clock.now():
        raise Unauthorized("refresh token has expired", code="bad_refresh_token")
    user = await queries.get_user(conn, row.user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthorized("refresh token is not valid", code="bad_refresh_token")
    await queries.update_refresh_token_used(conn, row.id)
    return await _issue(conn, user, settings, family_id=row.family_id)


async def logout(conn: asyncpg.Connection, token: str) -> None:
    row = await queries.lock_refresh_token(conn, _token_hash(token))
    if row is not None:
        await queries.update_revoke_family(conn, row.family_id)


async def accept_invite(
    transactions: Transactions, settings: Settings, token: str, password: str
) -> TokenPair:
    """The invitation is checked, the password hashed with nothing held, and the invitation
    checked again as it is spent (of two concurrent accepts, one wins)."""
    token_hash = _token_hash(token)
    async with transactions() as conn:
        await _valid_invite(conn, token_hash)
    password_hash = await hash_password(
        password, settings.argon2_time_cost, settings.argon2_memory_kib
    )
    async with transactions() as conn:
        invite, user = await _valid_invite(conn, token_hash)
        version = await queries.update_password(conn, user.id, password_hash)
        await queries.update_invite_accepted(conn, invite.id)
        await queries.update_revoke_user_tokens(conn, user.id)
        return await _issue(conn, msgspec.structs.replace(user, token_version=version), settings)


async def _valid_invite(conn: asyncpg.Connection, token_hash: bytes) -> tuple[InviteRow, UserRow]:
    """The unspent, unexpired invitation and its active user, both locked; 401 otherwise."""
    invite = await queries.lock_invite(conn, token_hash)
    if invite is None or invite.accepted_at is not None or invite.expires_at <= clock.now():
        raise Unauthorized("invitation is not valid or has expired", code="bad_invite")
    user = await queries.lock_user(conn, invite.user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthorized("invitation is not valid or has expired", code="bad_invite")
    return invite, user


async def change_password(
    transactions: Transactions,
    redis: Redis,
    settings: Settings,
    actor: Actor,
    current: str,
    new: str,
) -> TokenPair:
    """As login: read, check and hash with nothing held, then write only if no other change
    came in between (the current password given would then be a stale one)."""
    await ratelimit.count_password_change(redis, settings, actor.user)
    async with transactions() as conn:
        user = await queries.get_user(conn, actor.user)
    if user is None:
        raise NotFound("user not found")
    ok = await verify_password(
        user.password_hash, current, settings.argon2_time_cost, settings.argon2_memory_kib
    )
    if not ok:
        raise _wrong_current_password()
    password_hash = await hash_password(new, settings.argon2_time_cost, settings.argon2_memory_kib)
    async with transactions() as conn:
        locked = await queries.lock_user(conn, actor.user)
        if locked is None:
            raise NotFound("user not found")
        if locked.token_version != user.token_version:
            # Changed meanwhile: the current password given may no longer be the current one.
            raise _wrong_current_password()
        # The version bump ends every access token signed before, this caller's included; the
        # answer carries the only valid pair.
        version = await queries.update_password(conn, locked.id, password_hash)
        await queries.update_revoke_user_tokens(conn, locked.id)
        tokens = await _issue(
            conn, msgspec.structs.replace(locked, token_version=version), settings
        )
    await ratelimit.clear_password_change(redis, settings, actor.user)
    return tokens


def _wrong_current_password() -> Unauthorized:
    return Unauthorized(
        "current password is wrong", code="bad_credentials", field="current_password"
    )


async def get_me(conn: asyncpg.Connection, actor: Actor) -> MeOut:
    user = await queries.get_user(conn, actor.user)
    if user is None:
        raise NotFound("user not found")
    return MeOut(
        user_id=user.id,
        email=user.email,
        role=user.role,
        provider_id=user.provider_id,
        client_id=user.client_id,
    )


async def token_is_current(conn: asyncpg.Connection, claims: TokenClaims) -> bool:
    """The user exists, is active, and still is what the token says, at its version and sign-in."""
    state = await queries.get_access_state(conn, claims.sub, claims.sid)
    return (
        state is not None
        and not state.disabled
        and not state.session_revoked
        and state.token_version == claims.ver
        and state.role == claims.role
        and state.provider_id == claims.pid
        and state.client_id == claims.cid
    )


async def set_user_disabled(
    conn: asyncpg.Connection, actor: Actor, user_id: uuid.UUID, *, disabled: bool
) -> UserStatusOut:
    """Ops disable or enable a user; disabling ends their access and refresh tokens at once."""
    user = await queries.lock_user(conn, user_id)
    if user is None:
        raise NotFound("user not found")
    if disabled and user.id == actor.user_id:
        # The last ops user could otherwise lock everyone out of the console.
        raise CannotDisableSelf("ops cannot disable their own account")
    disabled_at = await queries.update_disabled(conn, user.id, clock.now() if disabled else None)
    if disabled:
        await queries.update_revoke_user_tokens(conn, user.id)
    await audit.record(conn, actor, "update", "user", [user.id])
    return UserStatusOut(user_id=user.id, disabled_at=disabled_at)
