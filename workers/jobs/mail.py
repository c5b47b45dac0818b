"""Account emails (signup verification, signup attempts on a registered address): outbox jobs."""

from __future__ import annotations

import logging
from typing import Any

from services.clients.signup import run_account_email

log = logging.getLogger(__name__)


async def send_account_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """One queued account email (carries an outbox id only: no address or token in Redis)."""
    outcome = await run_account_email(ctx["pool"], ctx["settings"], outbox_id)
    log.info("account email", extra={"job": "send_account_email", "outcome": outcome})
    return outcome
