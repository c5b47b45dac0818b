"""How often a caller may force a paid 270 (`refresh: true` on a check or an estimate).

Two limits, each answering 429 with Retry-After:
- per policy, a minimum interval since the policy's last check, read from benefit_checks: the
  database is the record of what was paid for, so a Redis flush or restart does not reopen it.
  Ops are exempt: they re-check a policy they have just corrected, and their count below still
  bounds them.
- per caller, a count per window in Redis (services/core/ratelimit.py), so one account cannot
  spread refreshes over many policies. Ops work for every client, so their count is larger.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import asyncpg
from redis.asyncio import Redis

from services.core import clock, ratelimit
from services.core.auth import Actor
from services.core.errors import TooManyRequests
from services.core.settings import Settings
from services.eligibility import queries
from services.eligibility.errors import RefreshTooSoon


async def check_policy_interval(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, policy_id: uuid.UUID
) -> None:
    """429 when the policy was last asked about less than the minimum interval ago."""
    interval = timedelta(seconds=settings.benefit_refresh_min_interval_s)
    if actor.role == "ops" or not interval:
        return
    last = await queries.get_last_requested_at(conn, policy_id)
    if last is None:
        return
    wait = last + interval - clock.now()
    if wait > timedelta(0):
        raise RefreshTooSoon(
            "this policy's benefits were checked recently; use the answer on file or try later",
            field="refresh",
            headers={"Retry-After": str(max(1, math.ceil(wait.total_seconds())))},
        )


async def count_caller(redis: Redis, settings: Settings, actor: Actor) -> None:
    """Count one refresh for the caller; 429 beyond their allowance in the window."""
    allowance = (
        settings.benefit_refresh_max_per_ops
        if actor.role == "ops"
        else settings.benefit_refresh_max_per_caller
    )
    try:
        await ratelimit.limit(
            redis,
            f"{settings.redis_namespace}:benefit-refresh:{actor.user_id}",
            max_hits=allowance,
            window_s=settings.benefit_refresh_window_s,
            what="benefit refreshes",
        )
    except TooManyRequests as exc:
        raise TooManyRequests(
            exc.detail, code="benefit_refresh_limit", field="refresh", headers=exc.headers
        ) from exc
