"""A stored benefit check and its "create" audit row come from one statement."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg

from schemas.eligibility import Benefits
from services.core import audit
from services.core.auth import SYSTEM
from services.core.logging import reset_request_id, set_request_id
from services.core.settings import Settings
from services.eligibility import queries
from tests.factories import make_insured_client


async def _store(
    db: asyncpg.Connection, settings: Settings, audited_by: audit.Author | None
) -> uuid.UUID:
    me, policy_id = await make_insured_client(db, settings)
    assert me.client_id is not None
    trace = uuid.uuid4().hex
    at = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    stored = await queries.insert_check(
        db,
        policy_id=policy_id,
        client_id=me.client_id,
        provider_id=None,
        service_date=date(2026, 11, 26),
        trace=trace,
        payload_id=uuid.uuid4(),
        status="active",
        benefits=Benefits(status="active", trace=trace),
        request_x12="ISA*270~",
        response_x12="ISA*271~",
        requested_by=me.user_id,
        requested_at=at,
        completed_at=at,
        duration_ms=12,
        audited_by=audited_by,
    )
    return stored.id


async def _audit_rows(db: asyncpg.Connection, check_id: uuid.UUID) -> list[tuple[object, ...]]:
    rows = await db.fetch(
        "SELECT actor_user_id, actor_role, action, request_id FROM audit_events"
        " WHERE entity = 'benefit_check' AND entity_id = $1",
        check_id,
    )
    return [tuple(r) for r in rows]


async def test_the_check_is_stored_with_its_audit_row(
    db: asyncpg.Connection, settings: Settings
) -> None:
    user_id = uuid.uuid4()
    token = set_request_id("req-stored-with-audit")
    try:
        author = audit.author(audit.Actor(user_id=user_id, role="client"))
    finally:
        reset_request_id(token)
    check_id = await _store(db, settings, author)
    assert await _audit_rows(db, check_id) == [
        (user_id, "client", "create", "req-stored-with-audit")
    ]


async def test_a_system_check_is_audited_as_the_system(
    db: asyncpg.Connection, settings: Settings
) -> None:
    check_id = await _store(db, settings, audit.author(SYSTEM))
    assert await _audit_rows(db, check_id) == [(None, "system", "create", None)]


async def test_without_an_author_no_audit_row_is_written(
    db: asyncpg.Connection, settings: Settings
) -> None:
    check_id = await _store(db, settings, None)
    assert await _audit_rows(db, check_id) == []
