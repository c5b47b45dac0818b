"""Prior authorizations: ops record them, providers read their clients', completion uses
a visit and a void gives it back."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.prior_authorizations import PriorAuthorizationIn, PriorAuthorizationOut
from services.core import audit
from services.core.auth import Actor
from services.core.pagination import Page, page_of
from services.core.scope import owner_scope
from services.prior_authorizations import queries
from services.prior_authorizations.errors import (
    AuthorizationNotFound,
    BadAuthorization,
    NumberTaken,
)

ENTITY = "prior_authorization"


async def create_authorization(
    conn: asyncpg.Connection, actor: Actor, data: PriorAuthorizationIn
) -> PriorAuthorizationOut:
    """Record a payer's authorization (ops)."""
    if data.valid_to < data.valid_from:
        raise BadAuthorization("valid_to is on or after valid_from", field="valid_to")
    try:
        async with conn.transaction():  # savepoint: a refused FK must not end the request
            created = await queries.insert_authorization(conn, data, actor.user)
    except asyncpg.ForeignKeyViolationError as exc:
        field = "payer_id" if "payer" in (exc.constraint_name or "") else "client_id"
        raise BadAuthorization(f"no such {field.removesuffix('_id')}", field=field) from exc
    if created is None:
        raise NumberTaken("the payer already has an authorization with this number",
                          field="number")  # fmt: skip
    await audit.record(conn, actor, "create", ENTITY, [created.id])
    return created


async def get_authorization(
    conn: asyncpg.Connection, actor: Actor, authorization_id: uuid.UUID
) -> PriorAuthorizationOut:
    """One authorization: ops any, a provider their clients' (others are not found)."""
    found = await queries.get_authorization(conn, authorization_id, owner_scope(actor).provider_id)
    if found is None:
        raise AuthorizationNotFound("prior authorization not found")
    await audit.record(conn, actor, "read", ENTITY, [found.id])
    return found


async def list_authorizations(
    conn: asyncpg.Connection,
    actor: Actor,
    client_id: uuid.UUID | None,
    payer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[PriorAuthorizationOut]:
    provider = owner_scope(actor).provider_id
    page = await page_of(
        lambda after, n: queries.list_authorizations(conn, client_id, payer_id, provider, after, n),
        cursor,
        limit,
    )
    await audit.record(conn, actor, "read", ENTITY, [r.id for r in page.items])
    return page


async def use_visit(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    payer_id: uuid.UUID,
    cpt_codes: list[str],
    on: date,
) -> PriorAuthorizationOut | None:
    """A visit of an authorization covering every code on `on`, used in the caller's
    transaction (race-safe); None when none has a visit left."""
    return await queries.update_use_visit(conn, client_id, payer_id, sorted(set(cpt_codes)), on)


async def return_visit(conn: asyncpg.Connection, authorization_id: uuid.UUID) -> None:
    """Give back a visit a voided session used, in the void's transaction."""
    if await queries.update_return_visit(conn, authorization_id) is None:
        raise AuthorizationNotFound(
            "no used visit to give back on this prior authorization",
            code="prior_authorization_no_visit_used",
        )


async def covers(
    conn: asyncpg.Connection, authorization_id: uuid.UUID, cpt_codes: list[str], on: date
) -> bool:
    """Whether a visit already used of this authorization covers these codes on `on` (an
    edited session keeps it then)."""
    return await queries.get_covers(conn, authorization_id, sorted(set(cpt_codes)), on)
