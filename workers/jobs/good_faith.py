"""Good Faith Estimate emails: outbox jobs."""

from __future__ import annotations

import logging
from typing import Any

from services.good_faith.notice import run_estimate_email

log = logging.getLogger(__name__)


async def send_good_faith_estimate(ctx: dict[str, Any], outbox_id: int) -> str:
    """One queued estimate email (carries an outbox id only: no address or PHI in Redis)."""
    outcome = await run_estimate_email(ctx["pool"], ctx["settings"], outbox_id)
    log.info(
        "good faith estimate email", extra={"job": "send_good_faith_estimate", "outcome": outcome}
    )
    return outcome
