"""Daily credentialing upkeep: expire ended approvals, flag those ending soon."""

from __future__ import annotations

import logging
from typing import Any

from services.core import clock
from services.credentialing.service import run_expiry

log = logging.getLogger(__name__)


async def expire_credentialing(ctx: dict[str, Any]) -> dict[str, int]:
    """Safe to run twice or concurrently: each change is one UPDATE that skips done rows."""
    today = clock.today()
    async with ctx["pool"].acquire() as conn, conn.transaction():
        run = await run_expiry(conn, today, ctx["settings"].credentialing_warn_days)
    outcome = {"expired": len(run.expired), "warned": len(run.warned)}
    log.info(
        "credentialing expiry",
        extra={"job": "expire_credentialing", "count": outcome["expired"] + outcome["warned"]},
    )
    return outcome
