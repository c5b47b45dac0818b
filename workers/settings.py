"""arq WorkerSettings: shared clients in ctx, the cron table, the job list."""

from __future__ import annotations

from typing import Any, ClassVar

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob

from services.clearinghouse.client import CoreHttpClient
from services.core import clock
from services.core.db import create_pool
from services.core.logging import configure_logging
from services.core.settings import Settings, load_settings
from services.payments.gateway import StripeGateway
from workers.jobs.claims import fetch_claim_results, schedule_claim_submissions, submit_claims
from workers.jobs.credentialing import expire_credentialing
from workers.jobs.eligibility import recheck_benefits, schedule_benefit_rechecks
from workers.jobs.good_faith import send_good_faith_estimate
from workers.jobs.mail import send_account_email
from workers.jobs.ops import store_ops_digest
from workers.jobs.outbox import relay_outbox
from workers.jobs.payments import (
    charge_client,
    follow_up_charge,
    handle_stripe_event,
    queue_monthly_statements,
    refund_client,
    retry_charge,
    send_charge_notice,
    send_statement_email,
    write_off_charge,
)
from workers.jobs.payouts import (
    check_trial_balance,
    create_top_up,
    run_payouts,
    send_payout_notice,
    transfer_payout,
    transfer_payouts,
)
from workers.jobs.remittance import (
    fetch_remittances,
    schedule_remittance_fetch,
    settle_true_up,
)
from workers.jobs.superbills import queue_monthly_superbills, send_superbill_email
from workers.jobs.timely_filing import flag_timely_filing

SETTINGS = load_settings()


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging(SETTINGS.log_level)
    clock.start(SETTINGS.clock_shift_to, SETTINGS.clock_shift_from)
    ctx["settings"] = SETTINGS
    ctx["pool"] = await create_pool(SETTINGS.database_url, min_size=1, max_size=5)
    ctx["clearinghouse"] = CoreHttpClient.from_settings(SETTINGS)
    ctx["stripe"] = StripeGateway.from_settings(SETTINGS)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["clearinghouse"].aclose()
    await ctx["stripe"].aclose()
    await ctx["pool"].close()


def crons(settings: Settings) -> list[CronJob]:
    """The cron table, each job named under the stack's Redis namespace. arq keys a unique
    cron's run by its name and instant (`arq:job:{name}:{ms}`) whatever the queue, and every
    worker's ticks fall on the same wall-clock instants: stacks (or test workers) sharing one
    Redis took each other's runs, so a worker could go a minute without its relay running."""

    def cron_(coroutine: Any, **schedule: Any) -> CronJob:
        name = f"cron:{settings.redis_namespace}:{coroutine.__qualname__}"
        return cron(coroutine, name=name, **schedule)

    return [
        cron_(expire_credentialing, hour=6, minute=0, unique=True),
        # Daily, max_tries 1 (cron's default): a run killed mid-way is simply tomorrow's.
        cron_(flag_timely_filing, hour=6, minute=30, unique=True),
        # Yesterday's digest, stored once (a second run keeps the first; a run killed mid-way
        # committed nothing, and GET /ops/digest still makes that day's on demand).
        cron_(store_ops_digest, hour=settings.ops_digest_hour, minute=0, unique=True, timeout=60),
        # Every 5 s: hands due outbox rows to arq, and again those whose job never finished.
        cron_(relay_outbox, second=set(range(0, 60, 5)), unique=True, timeout=30),
        cron_(schedule_benefit_rechecks, hour=5, minute=0, unique=True),
        cron_(check_trial_balance, hour=4, minute=0, unique=True, timeout=60),
        # Daily, run again in the next two hours: it only freezes payouts (each provider's its
        # own transaction, once per period) and writes outbox rows, so a run killed mid-way is
        # finished by the next one the same day and a repeat makes nothing.
        cron_(
            run_payouts,
            hour=set(range(settings.payout_run_hour, min(settings.payout_run_hour + 3, 24))),
            minute=0,
            unique=True,
            timeout=60,
        ),
        # Daily: last month's statements queued once per client (a day's failed run is the
        # next day's); the statements' month is in the platform's time zone.
        cron_(queue_monthly_statements, hour=9, minute=15, unique=True, timeout=60),
        # Daily, likewise: last month's superbill queued once per opted-in client.
        cron_(queue_monthly_superbills, hour=9, minute=30, unique=True, timeout=60),
        # Only selects payers and writes outbox rows (cron's max_tries is 1: see DESIGN.md).
        cron_(
            schedule_claim_submissions,
            minute=set(range(0, 60, settings.claim_submit_interval_min)),
            unique=True,
            timeout=30,
        ),
        # Only writes the clearinghouse's fetch row to the outbox (deduped while one is open).
        cron_(
            schedule_remittance_fetch,
            minute=set(range(0, 60, settings.remittance_poll_interval_min)),
            unique=True,
            timeout=30,
        ),
    ]


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        recheck_benefits,
        send_account_email,
        send_good_faith_estimate,
        # Short timeouts (a killed worker's job comes back 10 s after the longest): a batch of
        # 500 claims is written in well under a second and sent within the clearinghouse
        # deadline; the outbox sweeper brings back what a crash interrupted.
        func(submit_claims, timeout=45),
        func(fetch_claim_results, timeout=45),
        # At most remittance_files_per_run files a run, each posted in its own transaction.
        func(fetch_remittances, timeout=45),
        # One row's status in one short transaction (the payments issue adds the card call).
        func(settle_true_up, timeout=30),
        # One Stripe call (or a lookup and a call) within stripe_timeout_s each, nothing held;
        # a run killed mid-way leaves the charge submitting and the next one looks it up.
        func(charge_client, timeout=60),
        func(handle_stripe_event, timeout=60),
        func(refund_client, timeout=60),
        # Failed-payment recovery: one Stripe confirm (retry) or one SMTP send each, nothing held.
        func(follow_up_charge, timeout=30),
        func(retry_charge, timeout=60),
        func(write_off_charge, timeout=30),
        func(send_charge_notice, timeout=60),
        func(create_top_up, timeout=60),
        func(transfer_payout, timeout=60),
        # A freeze batch (200 payouts): two transactions and CONCURRENCY calls at a time; its
        # lease (transfers.LEASE, 120 s) outlasts this timeout.
        func(transfer_payouts, timeout=60),
        func(send_payout_notice, timeout=60),
        func(send_statement_email, timeout=30),
        # Builds one month's superbill and its PDF, then one SMTP send, nothing held.
        func(send_superbill_email, timeout=60),
    ]
    cron_jobs: ClassVar[list[Any]] = crons(SETTINGS)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(SETTINGS.redis_url)
    # Namespaced like every other key of ours, so stacks sharing one Redis keep their own queue.
    queue_name = SETTINGS.arq_queue_name
    # Short timeouts: a killed worker's job comes back 10 s after the longest of these.
    job_timeout = 60
    max_tries = 5
