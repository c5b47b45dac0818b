"""Payouts: the daily payout run and its transfers, the platform's top-ups sent to Stripe, and
the daily trial-balance check."""

from __future__ import annotations

import logging
from typing import Any

from schemas.payout_runs import TransferPayoutJob
from schemas.payouts import CreateTopUpJob
from services.core import clock
from services.core.transactions import Transactions
from services.payouts import accounts, notices, runs, transfer_batches, transfers
from services.payouts.connect import ConnectGateway
from services.payouts.top_ups import create_top_up as run_create_top_up
from services.payouts.trial_balance import check_trial_balance as run_check

log = logging.getLogger(__name__)


async def create_top_up(ctx: dict[str, Any], outbox_id: int) -> str:
    """A top-up sent to Stripe once, and re-read until it settles (carries an outbox id)."""
    pool = ctx["pool"]
    gateway = ConnectGateway.of(ctx["stripe"])
    outcome = await run_create_top_up(Transactions(lambda: pool.acquire()), gateway, outbox_id)
    log.info("top-up", extra={"job": CreateTopUpJob.job, "outcome": outcome})
    return outcome


async def check_trial_balance(ctx: dict[str, Any]) -> int:
    """Daily: the trial balance recorded, an alarm when it is not zero; its imbalance."""
    async with ctx["pool"].acquire() as conn, conn.transaction():
        check = await run_check(conn)
    log.info("trial balance checked", extra={"job": "check_trial_balance",
                                             "outcome": "balanced" if check.balanced
                                             else "imbalanced"})  # fmt: skip
    return check.imbalance_cents


async def transfer_payout(ctx: dict[str, Any], outbox_id: int) -> str:
    """A frozen payout transferred to the provider once (carries an outbox id)."""
    pool = ctx["pool"]
    gateway = ConnectGateway.of(ctx["stripe"])
    outcome = await transfers.transfer_payout(
        Transactions(lambda: pool.acquire()), gateway, outbox_id
    )
    log.info("payout transfer", extra={"job": TransferPayoutJob.job, "outcome": outcome})
    return outcome


async def transfer_payouts(ctx: dict[str, Any], outbox_id: int) -> str:
    """A freeze batch's payouts transferred together, each once (carries an outbox id)."""
    pool = ctx["pool"]
    return await transfer_batches.transfer_payouts(
        Transactions(lambda: pool.acquire()), ConnectGateway.of(ctx["stripe"]), outbox_id
    )


async def run_payouts(ctx: dict[str, Any]) -> int:
    """Daily: today's due providers' payouts frozen, each with its transfer's outbox row (only
    rows written: cron's max_tries is 1, the outbox brings the transfers); how many made."""
    pool, settings = ctx["pool"], ctx["settings"]
    tx = Transactions(lambda: pool.acquire())
    # Accounts not payable yet re-read first: one whose account.updated was lost is paid now
    # (and a payout held for it earlier is sent again by the run).
    refreshed = await accounts.refresh_unpayable(tx, ConnectGateway.of(ctx["stripe"]))
    log.info("connect accounts re-read", extra={"job": "run_payouts", "outcome": str(refreshed)})
    rules = runs.RunRules(settings.session_edit_window_hours, settings.payout_minimum_cents)
    tally = await runs.run_payouts(tx, rules, clock.today(), concurrency=runs.FREEZE_CONCURRENCY)
    return tally.created + tally.held


async def send_payout_notice(ctx: dict[str, Any], outbox_id: int) -> str:
    """A paid payout's notice to its provider, the statement's PDF attached (an outbox id)."""
    outcome = await notices.send_payout_notice(ctx["pool"], ctx["settings"], outbox_id)
    log.info("payout notice", extra={"job": "send_payout_notice", "outcome": outcome})
    return outcome
