"""SQL for prior authorizations.

Foreign tables read: client_providers (which clients a provider sees, for their lists).
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.prior_authorizations import PriorAuthorizationIn, PriorAuthorizationOut
from services.core import clock
from services.core.db import to_struct
from services.core.pagination import After, fetch_page

_COLUMNS = """
    id, client_id, payer_id, number, cpt_codes, visits_authorized, visits_used, valid_from,
    valid_to, created_by, created_at, updated_at
"""
# $n: the provider whose clients' authorizations are visible; NULL: ops, every one.
_VISIBLE = """
    ({p}::uuid IS NULL OR client_id IN
        (SELECT client_id FROM client_providers WHERE provider_id = {p}))
"""


async def insert_authorization(
    conn: asyncpg.Connection, data: PriorAuthorizationIn, by: uuid.UUID
) -> PriorAuthorizationOut | None:
    """The new row; None when the payer already has this number."""
    row = await conn.fetchrow(
        """
        INSERT INTO prior_authorizations (client_id, payer_id, number, cpt_codes,
                                          visits_authorized, valid_from, valid_to, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (payer_id, number) DO NOTHING
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        data.client_id,
        data.payer_id,
        data.number,
        sorted(set(data.cpt_codes)),
        data.visits_authorized,
        data.valid_from,
        data.valid_to,
        by,
    )
    return to_struct(row, PriorAuthorizationOut)


async def get_authorization(
    conn: asyncpg.Connection, authorization_id: uuid.UUID, provider_id: uuid.UUID | None
) -> PriorAuthorizationOut | None:
    row = await conn.fetchrow(
        "SELECT"
        + _COLUMNS
        + "FROM prior_authorizations WHERE id = $1 AND"
        + _VISIBLE.format(p="$2"),
        authorization_id,
        provider_id,
    )
    return to_struct(row, PriorAuthorizationOut)


async def list_authorizations(
    conn: asyncpg.Connection,
    client_id: uuid.UUID | None,
    payer_id: uuid.UUID | None,
    provider_id: uuid.UUID | None,
    after: After | None,
    limit: int,
) -> list[PriorAuthorizationOut]:
    query = (
        "SELECT"
        + _COLUMNS
        + """
        FROM prior_authorizations
        WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::uuid IS NULL OR payer_id = $2)
          AND"""
        + _VISIBLE.format(p="$3")
    )
    return await fetch_page(
        conn, PriorAuthorizationOut, query, client_id, payer_id, provider_id,
        after=after, limit=limit,
    )  # fmt: skip


async def update_use_visit(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    payer_id: uuid.UUID,
    cpt_codes: list[str],
    on: date,
) -> PriorAuthorizationOut | None:
    """One visit of an authorization covering the codes on `on`, used; None: none left.

    The subquery locks the chosen row; a transaction that waited for it re-reads it once the
    holder commits (READ COMMITTED) and finds no visit left, so two completions racing for the
    last visit cannot both have it. The earliest-ending authorization is used first.
    """
    row = await conn.fetchrow(
        """
        UPDATE prior_authorizations SET visits_used = visits_used + 1, updated_at = $5
        WHERE id = (
            SELECT id FROM prior_authorizations
            WHERE client_id = $1 AND payer_id = $2 AND $3::text[] <@ cpt_codes
              AND $4 BETWEEN valid_from AND valid_to AND visits_used < visits_authorized
            ORDER BY valid_to, created_at, id
            LIMIT 1
            FOR UPDATE)
          AND visits_used < visits_authorized
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        client_id,
        payer_id,
        cpt_codes,
        on,
        clock.now(),
    )
    return to_struct(row, PriorAuthorizationOut)


async def update_return_visit(
    conn: asyncpg.Connection, authorization_id: uuid.UUID
) -> PriorAuthorizationOut | None:
    row = await conn.fetchrow(
        """
        UPDATE prior_authorizations SET visits_used = visits_used - 1, updated_at = $2
        WHERE id = $1 AND visits_used > 0
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        authorization_id,
        clock.now(),
    )
    return to_struct(row, PriorAuthorizationOut)


async def get_covers(
    conn: asyncpg.Connection, authorization_id: uuid.UUID, cpt_codes: list[str], on: date
) -> bool:
    """Whether the authorization covers every code on `on` (its visits aside)."""
    found = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM prior_authorizations
                       WHERE id = $1 AND $2::text[] <@ cpt_codes
                         AND $3 BETWEEN valid_from AND valid_to)
        """,
        authorization_id,
        cpt_codes,
        on,
    )
    return bool(found)
