"""Monthly superbill emails: the cron that queues them and the job that sends one."""

from __future__ import annotations

import logging
from typing import Any

from services.core.db import transaction
from services.superbills.emails import queue_monthly_superbills as run_queue_monthly_superbills
from services.superbills.emails import send_superbill_email as run_send_superbill_email

log = logging.getLogger(__name__)


async def queue_monthly_superbills(ctx: dict[str, Any]) -> int:
    """Last month's superbills queued, once per opted-in client (cron, max_tries 1: it only
    writes rows, and a later day's run queues what a failed one did not)."""
    async with transaction(ctx["pool"]) as conn:
        queued = await run_queue_monthly_superbills(conn, ctx["settings"])
    log.info("superbills queued", extra={"job": "queue_monthly_superbills", "count": queued})
    return queued


async def send_superbill_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """One queued superbill email (carries an outbox id only: no address or PHI in Redis)."""
    outcome = await run_send_superbill_email(ctx["pool"], ctx["settings"], outbox_id)
    log.info("superbill email", extra={"job": "send_superbill_email", "outcome": outcome})
    return outcome
