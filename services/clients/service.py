"""Use cases of client intake: signup, ops-created clients, profiles, and who may see them."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import msgspec

from schemas.clients import (
    AddressOut,
    ClientColumns,
    ClientCreateIn,
    ClientInvitedOut,
    ClientOut,
    ClientPatchIn,
    ClientRow,
    PolicyRow,
    SignupIn,
    unset_to_dict,
)
from schemas.common import Address
from services.clients import queries
from services.clients.errors import BadDate, ClientNotFound
from services.core import audit, clock
from services.core.auth import Actor
from services.core.errors import NotFound, Unauthorized
from services.core.pagination import Page, page_of
from services.core.scope import NOBODY, Scope, owner_scope
from services.core.settings import Settings
from services.identity import service as identity

ENTITY = "client"
_EARLIEST_BIRTH = date(1900, 1, 1)


def check_birth_date(value: date, field: str) -> None:
    """A date of birth is not in the future and not before 1900."""
    if value > clock.today() or value < _EARLIEST_BIRTH:
        raise BadDate("date of birth must be between 1900-01-01 and today", field=field)


def client_out(row: ClientRow) -> ClientOut:
    return ClientOut(
        id=row.id,
        user_id=row.user_id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        date_of_birth=row.date_of_birth,
        sex=row.sex,
        address=AddressOut(
            line1=row.address_line1,
            line2=row.address_line2,
            city=row.city,
            state=row.state,
            zip=row.zip,
        ),
        phone=row.phone,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _columns(
    data: ClientCreateIn | ClientPatchIn, base: ClientColumns | None = None
) -> ClientColumns:
    """The profile `data` describes (a PATCH: `base` with the given fields replaced)."""
    fields = unset_to_dict(data)
    fields.pop("email", None)
    fields.pop("password", None)
    address = fields.pop("address", None)
    if isinstance(address, Address):
        fields |= {
            "address_line1": address.line1,
            "address_line2": address.line2 or None,
            "city": address.city,
            "state": address.state,
            "zip": address.zip,
        }
    if base is None:
        return msgspec.convert(fields, ClientColumns)
    return msgspec.convert(msgspec.structs.asdict(base) | fields, ClientColumns)


def self_actor(client: ClientRow) -> Actor:
    """A self-signup is its own actor: the new client wrote their own record."""
    return Actor(user_id=client.user_id, role="client", client_id=client.id)


async def _create(
    conn: asyncpg.Connection,
    settings: Settings,
    data: SignupIn | ClientCreateIn,
    password: str | None,
) -> ClientRow:
    """The new client (its audit row is the caller's: who wrote it differs)."""
    check_birth_date(data.date_of_birth, "date_of_birth")
    user_id = await identity.create_user(conn, settings, data.email, "client", password)
    return await queries.insert_client(conn, user_id, data.email.lower(), _columns(data))


async def create_client_with_password(
    conn: asyncpg.Connection, settings: Settings, data: SignupIn
) -> ClientRow:
    """A ready account for trusted callers only (demo data): no email verification."""
    client = await _create(conn, settings, data, data.password)
    await audit.record(conn, self_actor(client), "create", ENTITY, [client.id])
    return client


async def require_caller(conn: asyncpg.Connection, actor: Actor) -> None:
    """401 when a valid token names a user that no longer exists (its id is about to be stored)."""
    try:
        await identity.get_me(conn, actor)
    except NotFound as exc:
        raise Unauthorized("the token's user does not exist") from exc


async def create_client(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, data: ClientCreateIn
) -> ClientInvitedOut:
    """Ops create a client; the client sets a password with the invitation token."""
    await require_caller(conn, actor)
    # An unverified self-signup for this address must not block its real owner: ops take the
    # pending account over (its password and tokens are dropped, the profile is ops' data).
    claimed = await identity.claim_pending_user(conn, data.email)
    pending = await queries.lock_client_by_user(conn, claimed) if claimed else None
    if pending is not None:
        check_birth_date(data.date_of_birth, "date_of_birth")
        client = await queries.update_client(conn, pending.id, _columns(data))
        await audit.record(conn, actor, "update", ENTITY, [client.id])
    else:
        client = await _create(conn, settings, data, None)
        await audit.record(conn, actor, "create", ENTITY, [client.id])
    token, expires_at = await identity.create_invite(conn, settings, client.user_id, actor.user_id)
    return ClientInvitedOut(
        client=client_out(client), invite_token=token, invite_expires_at=expires_at
    )


async def provider_sees_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> bool:
    """A provider sees a client while they have a session together that was not cancelled."""
    return await queries.client_in_scope(conn, client_id, Scope(provider_id, NOBODY))


async def client_in_scope(conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID) -> bool:
    """Whether the client exists and is the caller's to see (one scoped statement)."""
    return await queries.client_in_scope(conn, client_id, owner_scope(actor))


async def visible_client(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, *, lock: bool = False
) -> ClientRow:
    """The client, or 404 when unknown or not the caller's to see: one statement finds it in
    the caller's scope (and locks it with `lock`)."""
    get = queries.lock_client if lock else queries.get_client
    client = await get(conn, client_id, owner_scope(actor))
    if client is None:
        raise ClientNotFound("client not found")
    return client


async def add_shared_session(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    """A session was booked between them: the provider sees the client (booking calls this in
    its transaction)."""
    await queries.insert_shared_session(conn, provider_id, client_id)


async def remove_shared_session(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    """One of their sessions was cancelled: at the last one, the provider no longer sees the
    client (the cancellation calls this in its transaction)."""
    # The UPDATE takes the pair's row lock, so concurrent bookings and cancellations count in
    # turn and the row is deleted only while no other transaction can change it.
    if await queries.update_unshared_session(conn, provider_id, client_id) == 0:
        await queries.delete_unshared(conn, provider_id, client_id)


async def get_client(conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID) -> ClientOut:
    client = await visible_client(conn, actor, client_id)
    await audit.record(conn, actor, "read", ENTITY, [client.id])
    return client_out(client)


async def list_clients(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[ClientOut]:
    scope = owner_scope(actor)
    page = await page_of(
        lambda after, n: queries.list_clients(conn, scope, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [r.id for r in page.items])
    return page.map(client_out)


async def update_client(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, data: ClientPatchIn
) -> ClientOut:
    client = await visible_client(conn, actor, client_id, lock=True)
    if not isinstance(data.date_of_birth, msgspec.UnsetType):
        check_birth_date(data.date_of_birth, "date_of_birth")
    updated = await queries.update_client(conn, client.id, _columns(data, client))
    await audit.record(conn, actor, "update", ENTITY, [client.id])
    return client_out(updated)


async def covering_policy(
    conn: asyncpg.Connection, client_id: uuid.UUID, policy_id: uuid.UUID, day: date
) -> PolicyRow | None:
    """The client's policy if it covers `day` (booking checks this)."""
    policy = await queries.get_policy(conn, client_id, policy_id)
    return policy if policy is not None and policy.covers(day) else None
