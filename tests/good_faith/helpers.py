"""Shared helpers of the Good Faith Estimate tests."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.core.auth import Actor


async def estimates(db: asyncpg.Connection, client: Actor) -> list[dict[str, Any]]:
    """The client's estimates, oldest first (every version)."""
    rows = await db.fetch(
        "SELECT id, course_id, version, reason, provider_id, therapy_session_id, period_start,"
        " period_end, expected_sessions, lines, total_cents, superseded_at, exceeded_at"
        " FROM good_faith_estimates WHERE client_id = $1 ORDER BY created_at, version",
        client.client_id,
    )
    return [dict(r) for r in rows]


async def email_jobs(db: asyncpg.Connection, estimate_ids: list[uuid.UUID]) -> int:
    """How many outbox rows queue the email of one of these estimates."""
    count: int = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE job = 'send_good_faith_estimate'"
        " AND (payload ->> 'estimate_id')::uuid = ANY($1::uuid[])",
        estimate_ids,
    )
    return count
