"""The trial balance for ops and its daily check (DESIGN.md "Money": zero after every event).

The database refuses an unbalanced entry at COMMIT, so a non-zero trial balance means the
ledger was written around its checks (a restore, a hand-made fix, a disabled trigger): the check
records each run and raises the alarm: an ERROR log, and the stored row, which the API's
/metrics reads at each scrape (`hearth_ledger_imbalance_cents`, which ops alert on when it is
not 0; the worker that runs the check serves no /metrics of its own).
"""

from __future__ import annotations

import logging

import asyncpg

from schemas.ledger import TrialBalance
from schemas.payouts import TrialBalanceCheckOut
from services.core import clock
from services.core.pagination import Page, page_of
from services.ledger import service as ledger
from services.payouts.queries import ledger_reads as q

log = logging.getLogger(__name__)


async def get_trial_balance(conn: asyncpg.Connection) -> TrialBalance:
    """Every account's debits and credits, and their difference (ops)."""
    return await ledger.get_trial_balance(conn)


async def check_trial_balance(conn: asyncpg.Connection) -> TrialBalanceCheckOut:
    """One check: the trial balance read, recorded, and an alarm when it is not zero."""
    trial = await ledger.get_trial_balance(conn)
    check = await q.insert_check(
        conn, trial.debits_cents, trial.credits_cents, len(trial.accounts), clock.now()
    )
    if not check.balanced:
        log.error(
            "ledger trial balance does not balance",
            extra={"outcome": "imbalanced", "count": check.imbalance_cents},
        )
    return check


async def latest_check(conn: asyncpg.Connection) -> TrialBalanceCheckOut | None:
    """The newest check, or None before the first one (/metrics, at each scrape)."""
    return await q.get_latest_check(conn)


async def list_checks(
    conn: asyncpg.Connection, limit: int, cursor: str | None
) -> Page[TrialBalanceCheckOut]:
    """The checks, newest first."""
    return await page_of(lambda after, n: q.list_checks(conn, after, n), cursor, limit)
