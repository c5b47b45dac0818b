"""Re-checking benefits: before a first session, and again each month for upcoming sessions.

The daily cron only selects due work and writes outbox rows (deduplicated per policy and
provider); each row's job asks the payer with nothing held and completes the row afterwards.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import asyncpg

from schemas.benefit_checks import BenefitCheckIn, RecheckJob
from services.clearinghouse.client import ClearinghouseAdapter
from services.clearinghouse.errors import ClearinghouseUnavailable
from services.core import outbox
from services.core.auth import SYSTEM
from services.core.db import transaction
from services.core.settings import Settings
from services.eligibility import queries
from services.eligibility.errors import NotX12Safe
from services.eligibility.service import RETRY_AFTER, check_benefits, queue_recheck

log = logging.getLogger(__name__)
# A stored value no 270 can carry stays until someone corrects it: try again daily, not every
# visibility timeout (the error names the field, never the value).
RETRY_AFTER_BAD_DATA = timedelta(days=1)


async def queue_rechecks(conn: asyncpg.Connection, today: date, horizon_days: int) -> int:
    """Queue a check for each policy x provider with a session in the horizon and no answer
    this calendar month (so the first of the month refreshes them all, and a first session is
    never met without one)."""
    month_start = datetime.combine(today.replace(day=1), datetime.min.time(), tzinfo=UTC)
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    rows = await queries.list_due_rechecks(conn, start, horizon_days, month_start)
    queued = 0
    for policy_id, provider_id in rows:
        queued += await queue_recheck(conn, policy_id, provider_id)
    return queued


async def run_recheck(
    pool: asyncpg.Pool, clearinghouse: ClearinghouseAdapter, settings: Settings, outbox_id: int
) -> str:
    """One outbox row's check; safe to run twice (a second run finds the row completed)."""
    async with transaction(pool) as conn:
        job = await outbox.lock(conn, outbox_id, RecheckJob)
    if job is None:
        return "done already"
    request = BenefitCheckIn(policy_id=job.policy_id, provider_id=job.provider, refresh=True)
    try:
        check, _ = await check_benefits(pool, clearinghouse, settings, SYSTEM, request)
    except ClearinghouseUnavailable as exc:
        async with transaction(pool) as conn:
            await outbox.record_failure(conn, outbox_id, exc.detail, RETRY_AFTER)
        return "clearinghouse unavailable; retrying later"
    except NotX12Safe as exc:
        log.warning("re-check refused", extra={"job": RecheckJob.job, "error_code": exc.code})
        async with transaction(pool) as conn:
            await outbox.record_failure(conn, outbox_id, exc.detail, RETRY_AFTER_BAD_DATA)
        return f"refused: {exc.detail}"
    async with transaction(pool) as conn:
        if check.retry_pending:
            await outbox.record_failure(conn, outbox_id, "payer could not answer now", RETRY_AFTER)
            return "payer could not answer now; retrying later"
        await outbox.complete(conn, outbox_id)
    return check.status
