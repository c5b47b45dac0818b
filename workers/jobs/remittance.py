"""835 ingestion: the cron that queues the clearinghouse poll, and the polling job; the
client true-up's settlement."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from schemas.remittance_posting import FetchRemittancesJob
from schemas.true_ups import SettleTrueUpJob
from services.core.db import transaction
from services.payments.true_ups import settle_true_up_on
from services.remittance.ingest import fetch_remittances as run_fetch_remittances
from services.remittance.ingest import queue_fetch

log = logging.getLogger(__name__)


async def schedule_remittance_fetch(ctx: dict[str, Any]) -> bool:
    """Queue the clearinghouse's 835 fetch unless one is open (cron, max_tries 1)."""
    async with transaction(ctx["pool"]) as conn:
        queued = await queue_fetch(conn, ctx["settings"])
    log.info(
        "remittance fetch queued", extra={"job": "schedule_remittance_fetch", "count": int(queued)}
    )
    return queued


async def fetch_remittances(ctx: dict[str, Any], outbox_id: int) -> str:
    """The clearinghouse's new 835s fetched and posted (carries an outbox id only)."""
    outcome = await run_fetch_remittances(
        ctx["pool"], ctx["clearinghouse"], ctx["settings"], outbox_id
    )
    log.info("remittance fetch", extra={"job": FetchRemittancesJob.job, "outcome": outcome})
    return outcome


async def settle_true_up(ctx: dict[str, Any], outbox_id: int) -> str:
    """A ready true-up charged, refunded, or left a balance due or credit (payments decide;
    carries an outbox id only)."""
    notice = timedelta(days=ctx["settings"].true_up_notice_days)
    async with transaction(ctx["pool"]) as conn:
        outcome = await settle_true_up_on(conn, outbox_id, notice)
    log.info("true-up settled", extra={"job": SettleTrueUpJob.job, "outcome": outcome})
    return outcome
