"""Liveness and readiness for the load balancer."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import Response, get
from litestar.datastructures import State

from schemas.common import Out
from services.core.auth import PUBLIC
from services.core.errors import OUTAGE_RETRY_AFTER_S


class Health(Out, omit_defaults=True):
    status: str
    postgres: str | None = None
    redis: str | None = None


@get("/health/live", opt=PUBLIC, operation_id="health_live", tags=["health"])
async def live() -> Health:
    """The process is up."""
    return Health(status="ok")


async def _check(coro: object) -> str:
    try:
        await asyncio.wait_for(coro, timeout=2)  # type: ignore[arg-type]
    except Exception:
        return "down"
    return "ok"


@get("/health/ready", opt=PUBLIC, operation_id="health_ready", tags=["health"])
async def ready(state: State) -> Response[Health]:
    """PostgreSQL and Redis both answer."""
    pool: asyncpg.Pool = state.pool
    pg = await _check(pool.fetchval("SELECT 1"))
    redis = await _check(state.redis.ping())
    ok = pg == "ok" and redis == "ok"
    return Response(
        Health(status="ok" if ok else "unavailable", postgres=pg, redis=redis),
        status_code=200 if ok else 503,
        # The load balancer stops sending traffic; a client probing it learns when to look again.
        headers=None if ok else {"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
    )
