"""SQL for clients, their insurance policies, and which providers see them.

Foreign tables read: payers (whether a policy names a payer that exists).
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.clients import ClientColumns, ClientRow, PolicyRow
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

_COLUMNS = """
    id, user_id, email, first_name, last_name, date_of_birth, sex, address_line1,
    address_line2, city, state, zip, phone, created_at, updated_at
"""
_CLIENT = "SELECT" + _COLUMNS + "FROM clients c"
# The caller's scope (services.core.scope) as $1 provider, $2 client; `c` is the clients row.
# A provider sees a client while they have a session together that was not cancelled: the
# therapy_sessions service keeps client_providers in step with that.
_IN_SCOPE = """
    ($1::uuid IS NULL OR c.id = $2
     OR EXISTS (SELECT 1 FROM client_providers r WHERE r.provider_id = $1 AND r.client_id = c.id))
"""


async def client_in_scope(conn: asyncpg.Connection, client_id: uuid.UUID, scope: Scope) -> bool:
    seen: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM clients c WHERE c.id = $3 AND" + _IN_SCOPE + ")",  # noqa: S608
        *scope,
        client_id,
    )
    return seen


async def get_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, scope: Scope
) -> ClientRow | None:
    row = await conn.fetchrow(_CLIENT + " WHERE c.id = $3 AND" + _IN_SCOPE, *scope, client_id)
    return to_struct(row, ClientRow)


async def lock_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, scope: Scope
) -> ClientRow | None:
    row = await conn.fetchrow(
        _CLIENT + " WHERE c.id = $3 AND" + _IN_SCOPE + "FOR UPDATE OF c", *scope, client_id
    )
    return to_struct(row, ClientRow)


async def list_clients(
    conn: asyncpg.Connection,
    scope: Scope,
    after: After | None,
    limit: int,
) -> list[ClientRow]:
    """The clients in the caller's scope: every client for ops, those a provider sees."""
    return await fetch_page(
        conn, ClientRow, _CLIENT + " WHERE" + _IN_SCOPE, *scope, after=after, limit=limit, alias="c"
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
    row = await conn.fetchrow(
        """
        INSERT INTO clients (user_id, email, first_name, last_name, date_of_birth, sex,
                             address_line1, address_line2, city, state, zip, phone)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        user_id,
        email,
        *_column_values(c),
    )
    return one(row, ClientRow)


async def update_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, c: ClientColumns
) -> ClientRow:
    row = await conn.fetchrow(
        """
        UPDATE clients SET first_name = $2, last_name = $3, date_of_birth = $4, sex = $5,
               address_line1 = $6, address_line2 = $7, city = $8, state = $9, zip = $10,
               phone = $11, updated_at = now()
        WHERE id = $1
        RETURNING"""  # noqa: S608 (constant column list, no input)
        + _COLUMNS,
        client_id,
        *_column_values(c),
    )
    return one(row, ClientRow)


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


# --- which providers see a client ---------------------------------------------------------


async def insert_shared_session(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    """One more session of the pair that is not cancelled (the pair's row at its first)."""
    await conn.execute(
        """
        INSERT INTO client_providers (provider_id, client_id, sessions) VALUES ($1, $2, 1)
        ON CONFLICT (provider_id, client_id)
        DO UPDATE SET sessions = client_providers.sessions + 1
        """,
        provider_id,
        client_id,
    )


async def update_unshared_session(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> int | None:
    """One session of the pair fewer; the number left (None: the pair has no row)."""
    left: int | None = await conn.fetchval(
        """
        UPDATE client_providers SET sessions = sessions - 1
        WHERE provider_id = $1 AND client_id = $2
        RETURNING sessions
        """,
        provider_id,
        client_id,
    )
    return left


async def delete_unshared(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> None:
    """The pair's row once no session of theirs is left (its lock is this transaction's)."""
    await conn.execute(
        "DELETE FROM client_providers WHERE provider_id = $1 AND client_id = $2 AND sessions = 0",
        provider_id,
        client_id,
    )
