"""Reading a benefit check's raw 270/271 is audited as its own action."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import msgspec

from schemas.eligibility import Benefits
from services.core.settings import Settings
from tests.factories import make_insured_client, make_ops


async def _benefit_check(db: asyncpg.Connection, settings: Settings) -> uuid.UUID:
    me, policy_id = await make_insured_client(db, settings)
    trace = uuid.uuid4().hex[:20]
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    check_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO benefit_checks (policy_id, client_id, service_date, trace, payload_id, status,
                                    benefits, request_x12, response_x12, requested_at,
                                    completed_at, duration_ms)
        VALUES ($1, $2, $3, $4, $5, 'active', $6, 'ISA*270~', 'ISA*271~', $7, $7, 12)
        RETURNING id
        """,
        policy_id,
        me.client_id,
        date(2026, 3, 2),
        trace,
        uuid.uuid4(),
        msgspec.to_builtins(Benefits(status="active", trace=trace)),
        at,
    )
    return check_id


async def _actions(db: asyncpg.Connection, check_id: uuid.UUID) -> list[str]:
    rows = await db.fetch(
        "SELECT action FROM audit_events WHERE entity = 'benefit_check' AND entity_id = $1"
        " ORDER BY id",
        check_id,
    )
    return [r["action"] for r in rows]


async def test_raw_x12_read_is_recorded_as_read_x12_not_as_a_read(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    check_id = await _benefit_check(db, settings)
    ops = token(await make_ops(db))
    raw = await client.get(f"/benefit-checks/{check_id}/x12", headers=ops)
    assert raw.status_code == 200, raw.text
    assert raw.json()["request_x12"] == "ISA*270~"
    assert await _actions(db, check_id) == ["read_x12"]
    one = await client.get(f"/benefit-checks/{check_id}", headers=ops)
    assert one.status_code == 200, one.text
    assert await _actions(db, check_id) == ["read_x12", "read"]
