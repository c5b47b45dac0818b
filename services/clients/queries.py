"""SQL for clients, their insurance policies, and who may see them."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.clients import ClientColumns, ClientRow, PolicyRow
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page

_CLIENT = """
    SELECT c.id, c.user_id, c.email, c.first_name, c.last_name, c.date_of_birth, c.sex,
           c.address_line1, c.address_line2, c.city, c.state, c.zip, c.phone,
           c.created_at, c.updated_at
    FROM clients c
"""
# The provider visibility rule, in one place: a provider sees a client while they have a
# session together that was not cancelled. $1 is the provider id; `c` the clients row.
_PROVIDER_SEES = """
    EXISTS (SELECT 1 FROM therapy_sessions s
            WHERE s.client_id = c.id AND s.provider_id = $1 AND s.status <> 'cancelled')
"""


async def provider_sees_client(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> bool:
    seen: bool = await conn.fetchval(
        "SELECT " + _PROVIDER_SEES + " FROM clients c WHERE c.id = $2",  # noqa: S608 (constants)
        provider_id,
        client_id,
    )
    return bool(seen)


async def get_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> ClientRow | None:
    return to_struct(await conn.fetchrow(_CLIENT + " WHERE c.id = $1", client_id), ClientRow)


async def lock_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> ClientRow | None:
    return to_struct(
        await conn.fetchrow(_CLIENT + " WHERE c.id = $1 FOR UPDATE", client_id), ClientRow
    )


async def list_clients(
    conn: asyncpg.Connection,
    provider_id: uuid.UUID | None,
    after: After | None,
    limit: int,
) -> list[ClientRow]:
    """Every client (provider_id None, for ops) or those the provider sees."""
    query = _CLIENT + " WHERE ($1::uuid IS NULL OR " + _PROVIDER_SEES + ")"
    return await fetch_page(
        conn, ClientRow, query, provider_id, after=after, limit=limit, alias="c"
    )


def _column_values(c: ClientColumns) -> tuple[object, ...]:
    return (
        c.first_name,
        c.last_name,
        c.date_of_birth,
        c.sex,
        c.address_line1,
        c.address_line2,
        c.city,
        c.state,
        c.zip,
        c.phone,
    )


async def insert_client(
    conn: asyncpg.Connection, user_id: uuid.UUID, email: str, c: ClientColumns
) -> ClientRow:
    client_id = await conn.fetchval(
        """
        INSERT INTO clients (user_id, email, first_name, last_name, date_of_birth, sex,
                             address_line1, address_line2, city, state, zip, phone)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        RETURNING id
        """,
        user_id,
        email,
        *_column_values(c),
    )
    created = await get_client(conn, client_id)
    assert created is not None
    return created


async def update_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, c: ClientColumns
) -> ClientRow:
    await conn.execute(
        """
        UPDATE clients SET first_name = $2, last_name = $3, date_of_birth = $4, sex = $5,
               address_line1 = $6, address_line2 = $7, city = $8, state = $9, zip = $10,
               phone = $11, updated_at = now()
        WHERE id = $1
        """,
        client_id,
        *_column_values(c),
    )
    updated = await get_client(conn, client_id)
    assert updated is not None
    return updated


# --- insurance policies -------------------------------------------------------------------

_POLICY = """
    SELECT id, client_id, payer_id, priority, member_id, group_number, relationship,
           subscriber_first_name, subscriber_last_name, subscriber_date_of_birth, subscriber_sex,
           patient_member_id, effective_from, effective_to, created_at, updated_at
    FROM insurance_policies
"""


async def payer_exists(conn: asyncpg.Connection, payer_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM payers WHERE id = $1)", payer_id))


async def get_policy(
    conn: asyncpg.Connection, client_id: uuid.UUID, policy_id: uuid.UUID
) -> PolicyRow | None:
    row = await conn.fetchrow(_POLICY + " WHERE id = $1 AND client_id = $2", policy_id, client_id)
    return to_struct(row, PolicyRow)


async def list_policies(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    after: After | None,
    limit: int,
) -> list[PolicyRow]:
    query = _POLICY + " WHERE client_id = $1"
    return await fetch_page(conn, PolicyRow, query, client_id, after=after, limit=limit)


async def list_overlapping_policies(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    priority: str,
    start: date,
    end: date | None,
    exclude_id: uuid.UUID | None,
) -> list[PolicyRow]:
    rows = await conn.fetch(
        _POLICY
        + """
        WHERE client_id = $1 AND priority = $2
          AND daterange(effective_from, effective_to, '[]') && daterange($3, $4, '[]')
          AND ($5::uuid IS NULL OR id <> $5)
        """,
        client_id,
        priority,
        start,
        end,
        exclude_id,
    )
    return to_structs(rows, PolicyRow)


async def _policy_key(conn: asyncpg.Connection, client_id: uuid.UUID, priority: str) -> int:
    await conn.execute(
        """
        INSERT INTO insurance_policy_keys (client_id, priority) VALUES ($1, $2)
        ON CONFLICT (client_id, priority) DO NOTHING
        """,
        client_id,
        priority,
    )
    key_id: int = await conn.fetchval(
        "SELECT id FROM insurance_policy_keys WHERE client_id = $1 AND priority = $2",
        client_id,
        priority,
    )
    return key_id


def _policy_values(p: PolicyRow, key_id: int) -> tuple[object, ...]:
    """Parameters $2.. of insert_policy and update_policy, in column order."""
    return (
        p.payer_id,
        key_id,
        p.priority,
        p.member_id,
        p.group_number,
        p.relationship,
        p.subscriber_first_name,
        p.subscriber_last_name,
        p.subscriber_date_of_birth,
        p.subscriber_sex,
        p.patient_member_id,
        p.effective_from,
        p.effective_to,
    )


async def insert_policy(conn: asyncpg.Connection, p: PolicyRow) -> PolicyRow:
    key_id = await _policy_key(conn, p.client_id, p.priority)
    row = await conn.fetchrow(
        """
        INSERT INTO insurance_policies (
            client_id, payer_id, key_id, priority, member_id, group_number, relationship,
            subscriber_first_name, subscriber_last_name, subscriber_date_of_birth,
            subscriber_sex, patient_member_id, effective_from, effective_to)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING id, client_id, payer_id, priority, member_id, group_number, relationship,
            subscriber_first_name, subscriber_last_name, subscriber_date_of_birth, subscriber_sex,
            patient_member_id, effective_from, effective_to, created_at, updated_at
        """,
        p.client_id,
        *_policy_values(p, key_id),
    )
    return one(row, PolicyRow)


async def update_policy(conn: asyncpg.Connection, p: PolicyRow) -> PolicyRow:
    key_id = await _policy_key(conn, p.client_id, p.priority)
    row = await conn.fetchrow(
        """
        UPDATE insurance_policies SET
            payer_id = $2, key_id = $3, priority = $4, member_id = $5, group_number = $6,
            relationship = $7, subscriber_first_name = $8, subscriber_last_name = $9,
            subscriber_date_of_birth = $10, subscriber_sex = $11, patient_member_id = $12,
            effective_from = $13, effective_to = $14, updated_at = now()
        WHERE id = $1
        RETURNING id, client_id, payer_id, priority, member_id, group_number, relationship,
            subscriber_first_name, subscriber_last_name, subscriber_date_of_birth, subscriber_sex,
            patient_member_id, effective_from, effective_to, created_at, updated_at
        """,
        p.id,
        *_policy_values(p, key_id),
    )
    return one(row, PolicyRow)


async def lock_client_by_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> ClientRow | None:
    return to_struct(
        await conn.fetchrow(_CLIENT + " WHERE c.user_id = $1 FOR UPDATE OF c", user_id), ClientRow
    )
