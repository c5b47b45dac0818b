"""Daily timely-filing watch: flag claims nearing their payer's filing limit for ops."""

from __future__ import annotations

import logging
from typing import Any

from services.claims.service import flag_filing_deadlines
from services.core import clock

log = logging.getLogger(__name__)


async def flag_timely_filing(ctx: dict[str, Any]) -> dict[str, int]:
    """Safe to run twice or concurrently: one UPDATE that skips claims already flagged."""
    today = clock.today()
    async with ctx["pool"].acquire() as conn, conn.transaction():
        flagged = await flag_filing_deadlines(conn, today, ctx["settings"].timely_filing_warn_days)
    log.info("timely filing", extra={"job": "flag_timely_filing", "count": len(flagged)})
    return {"flagged": len(flagged)}
