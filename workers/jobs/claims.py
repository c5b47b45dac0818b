"""Claim submission: the cron that selects payers, the submission and results jobs."""

from __future__ import annotations

import logging
from typing import Any

from schemas.claims import FetchClaimResultsJob, SubmitClaimsJob
from services.claims.results import fetch_claim_results as run_fetch_claim_results
from services.claims.submission import queue_submissions
from services.claims.submission import submit_claims as run_submit_claims
from services.core.db import transaction

log = logging.getLogger(__name__)


async def schedule_claim_submissions(ctx: dict[str, Any]) -> int:
    """Queue one submission per payer with ready claims past the hold (cron, max_tries 1)."""
    async with transaction(ctx["pool"]) as conn:
        queued = await queue_submissions(conn, ctx["settings"])
    log.info(
        "claim submissions queued", extra={"job": "schedule_claim_submissions", "count": queued}
    )
    return queued


async def submit_claims(ctx: dict[str, Any], outbox_id: int) -> str:
    """One payer's batches (carries an outbox id only)."""
    outcome = await run_submit_claims(ctx["pool"], ctx["clearinghouse"], ctx["settings"], outbox_id)
    log.info("claim submission", extra={"job": SubmitClaimsJob.job, "outcome": outcome})
    return outcome


async def fetch_claim_results(ctx: dict[str, Any], outbox_id: int) -> str:
    """One sent batch's 999/TA1 and 277CA (carries an outbox id only)."""
    outcome = await run_fetch_claim_results(
        ctx["pool"], ctx["clearinghouse"], ctx["settings"], outbox_id
    )
    log.info("claim results", extra={"job": FetchClaimResultsJob.job, "outcome": outcome})
    return outcome
