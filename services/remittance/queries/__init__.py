"""SQL for recoupment policies and their change history."""

from __future__ import annotations

import uuid

import asyncpg

from schemas.recoupment import (
    PolicyAction,
    PolicyTerms,
    RecoupmentPolicyChangeOut,
    RecoupmentPolicyRow,
)
from services.core.audit import Author
from services.core.db import one, to_struct, to_structs
from services.core.pagination import After, fetch_page

_POLICY = """
    SELECT id, carc_group AS "group", carc_code AS code, decision, condition, description,
           is_default, created_at, updated_at, updated_by
    FROM recoupment_policies
"""
_CHANGE = """
    SELECT id, policy_id, carc_group AS "group", carc_code AS code, action, before, after,
           changed_by, created_at, request_id
    FROM recoupment_policy_changes
"""


async def get_policy(conn: asyncpg.Connection, policy_id: uuid.UUID) -> RecoupmentPolicyRow | None:
    row = await conn.fetchrow(_POLICY + " WHERE id = $1", policy_id)
    return to_struct(row, RecoupmentPolicyRow)


async def list_policies_for(
    conn: asyncpg.Connection, pairs: list[tuple[str, str]]
) -> list[RecoupmentPolicyRow]:
    """The rows of these (group, code) pairs that exist."""
    rows = await conn.fetch(
        _POLICY  # noqa: S608 - constant fragments
        + """ WHERE (carc_group, carc_code) IN (
            SELECT * FROM unnest($1::text[], $2::text[]))""",
        [group for group, _ in pairs],
        [code for _, code in pairs],
    )
    return to_structs(rows, RecoupmentPolicyRow)


async def lock_policy_for(
    conn: asyncpg.Connection, group: str, code: str
) -> RecoupmentPolicyRow | None:
    row = await conn.fetchrow(
        _POLICY + " WHERE carc_group = $1 AND carc_code = $2 FOR UPDATE", group, code
    )
    return to_struct(row, RecoupmentPolicyRow)


async def list_policies(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[RecoupmentPolicyRow]:
    return await fetch_page(
        conn, RecoupmentPolicyRow, _POLICY + " WHERE true", after=after, limit=limit
    )


async def insert_policy(
    conn: asyncpg.Connection, group: str, code: str, terms: PolicyTerms, updated_by: uuid.UUID
) -> RecoupmentPolicyRow | None:
    """None when the CARC already has a row (a concurrent PUT created it first)."""
    row = await conn.fetchrow(
        """
        INSERT INTO recoupment_policies
            (carc_group, carc_code, decision, condition, description, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (carc_group, carc_code) DO NOTHING
        RETURNING id, carc_group AS "group", carc_code AS code, decision, condition, description,
                  is_default, created_at, updated_at, updated_by
        """,
        group,
        code,
        terms.decision,
        terms.condition,
        terms.description,
        updated_by,
    )
    return to_struct(row, RecoupmentPolicyRow)


async def update_policy(
    conn: asyncpg.Connection, policy_id: uuid.UUID, terms: PolicyTerms, updated_by: uuid.UUID
) -> RecoupmentPolicyRow:
    row = await conn.fetchrow(
        """
        UPDATE recoupment_policies
        SET decision = $2, condition = $3, description = $4, updated_by = $5,
            updated_at = clock_timestamp()
        WHERE id = $1
        RETURNING id, carc_group AS "group", carc_code AS code, decision, condition, description,
                  is_default, created_at, updated_at, updated_by
        """,
        policy_id,
        terms.decision,
        terms.condition,
        terms.description,
        updated_by,
    )
    return one(row, RecoupmentPolicyRow)


async def delete_policy(conn: asyncpg.Connection, policy_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM recoupment_policies WHERE id = $1", policy_id)


def _terms(terms: PolicyTerms | None) -> dict[str, str | None] | None:
    if terms is None:
        return None
    return {
        "decision": terms.decision,
        "condition": terms.condition,
        "description": terms.description,
    }


async def insert_change(
    conn: asyncpg.Connection,
    policy: RecoupmentPolicyRow,
    action: PolicyAction,
    before: PolicyTerms | None,
    after: PolicyTerms | None,
    written_by: Author,
) -> None:
    changed_by, _, request_id = written_by
    await conn.execute(
        """
        INSERT INTO recoupment_policy_changes
            (policy_id, carc_group, carc_code, action, before, after, changed_by, request_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        policy.id,
        policy.group,
        policy.code,
        action,
        _terms(before),
        _terms(after),
        changed_by,
        request_id,
    )


async def has_changes(conn: asyncpg.Connection, policy_id: uuid.UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM recoupment_policy_changes WHERE policy_id = $1)", policy_id
    )
    return found


async def list_changes(
    conn: asyncpg.Connection, policy_id: uuid.UUID, after: After | None, limit: int
) -> list[RecoupmentPolicyChangeOut]:
    return await fetch_page(
        conn,
        RecoupmentPolicyChangeOut,
        _CHANGE + " WHERE policy_id = $1",
        policy_id,
        after=after,
        limit=limit,
    )
