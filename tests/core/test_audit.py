"""The audit table is append-only for everyone, superusers included."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.core import audit
from services.core.auth import SYSTEM
from services.core.logging import reset_request_id, set_request_id
from tests.factories import make_ops


async def test_record_writes_one_row_per_id_with_the_request_id(db: asyncpg.Connection) -> None:
    actor = await make_ops(db)
    ids = [uuid.uuid4(), uuid.uuid4()]
    token = set_request_id("req-audit-test-1")
    try:
        await audit.record(db, actor, "read", "client", ids)
    finally:
        reset_request_id(token)
    rows = await db.fetch(
        "SELECT actor_user_id, actor_role, action, entity, entity_id, request_id"
        " FROM audit_events WHERE entity_id = ANY($1::uuid[]) ORDER BY id",
        ids,
    )
    assert [dict(r) for r in rows] == [
        {
            "actor_user_id": actor.user_id,
            "actor_role": "ops",
            "action": "read",
            "entity": "client",
            "entity_id": i,
            "request_id": "req-audit-test-1",
        }
        for i in ids
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'delete'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_audit_rows_cannot_be_changed_or_removed(
    db: asyncpg.Connection, statement: str
) -> None:
    await audit.record(db, SYSTEM, "update", "client", [uuid.uuid4()])
    assert await db.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        async with db.transaction():
            await db.execute(statement)
