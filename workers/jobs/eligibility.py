"""Benefit re-checks: the daily selection (cron) and each check (an outbox job)."""

from __future__ import annotations

import logging
from typing import Any

from services.core import clock
from services.core.db import transaction
from services.eligibility.rechecks import queue_rechecks, run_recheck

log = logging.getLogger(__name__)
HORIZON_DAYS = 7


async def schedule_benefit_rechecks(ctx: dict[str, Any]) -> int:
    """Queue checks for policies with sessions this week and no answer this month."""
    async with transaction(ctx["pool"]) as conn:
        queued = await queue_rechecks(conn, clock.today(), HORIZON_DAYS)
    log.info(
        "benefit re-checks queued", extra={"job": "schedule_benefit_rechecks", "count": queued}
    )
    return queued


async def recheck_benefits(ctx: dict[str, Any], outbox_id: int) -> str:
    """One queued re-check (carries an outbox id only: no PHI in Redis)."""
    outcome = await run_recheck(ctx["pool"], ctx["clearinghouse"], ctx["settings"], outbox_id)
    log.info("benefit re-check", extra={"job": "recheck_benefits", "outcome": outcome})
    return outcome
