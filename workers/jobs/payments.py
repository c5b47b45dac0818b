"""Client payments: the card charge at completion, true-ups charged or refunded, and Stripe's
webhook events."""

from __future__ import annotations

import logging
from typing import Any

from schemas.payments import (
    ChargeClientJob,
    HandleStripeEventJob,
    RefundClientJob,
    StatementEmailJob,
)
from services.core.db import transaction
from services.core.transactions import Transactions
from services.payments import notices, recovery
from services.payments.charges import charge_client as run_charge_client
from services.payments.statement_emails import (
    queue_monthly_statements as run_queue_monthly_statements,
)
from services.payments.statement_emails import send_statement_email as run_send_statement_email
from services.payments.true_ups import refund_client as run_refund_client
from services.payments.webhooks import handle_stripe_event as run_handle_stripe_event

log = logging.getLogger(__name__)


def _transactions(ctx: dict[str, Any]) -> Transactions:
    pool = ctx["pool"]
    return Transactions(lambda: pool.acquire())


async def charge_client(ctx: dict[str, Any], outbox_id: int) -> str:
    """A pending charge sent to Stripe once (carries an outbox id only)."""
    outcome = await run_charge_client(_transactions(ctx), ctx["stripe"], outbox_id)
    log.info("client charged", extra={"job": ChargeClientJob.job, "outcome": outcome})
    return outcome


async def handle_stripe_event(ctx: dict[str, Any], outbox_id: int) -> str:
    """A stored Stripe event applied from the object as Stripe has it now."""
    outcome = await run_handle_stripe_event(_transactions(ctx), ctx["stripe"], outbox_id)
    log.info("stripe event", extra={"job": HandleStripeEventJob.job, "outcome": outcome})
    return outcome


async def refund_client(ctx: dict[str, Any], outbox_id: int) -> str:
    """A true-up's refund sent to Stripe once (carries an outbox id only)."""
    outcome = await run_refund_client(_transactions(ctx), ctx["stripe"], outbox_id)
    log.info("client refunded", extra={"job": RefundClientJob.job, "outcome": outcome})
    return outcome


async def send_statement_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """A true-up notice or a monthly statement emailed (carries an outbox id only)."""
    outcome = await run_send_statement_email(ctx["pool"], ctx["settings"], outbox_id)
    log.info("statement email", extra={"job": StatementEmailJob.job, "outcome": outcome})
    return outcome


async def queue_monthly_statements(ctx: dict[str, Any]) -> int:
    """Last month's statements queued, once per client (cron, max_tries 1: it only writes
    rows, and a later day's run queues what a failed one did not)."""
    async with transaction(ctx["pool"]) as conn:
        queued = await run_queue_monthly_statements(conn, ctx["settings"])
    log.info("statements queued", extra={"job": "queue_monthly_statements", "count": queued})
    return queued


async def follow_up_charge(ctx: dict[str, Any], outbox_id: int) -> str:
    """A charge that did not go through: retries or the write-off scheduled, the client told."""
    async with transaction(ctx["pool"]) as conn:
        outcome = await recovery.follow_up_charge(conn, ctx["settings"], outbox_id)
    log.info("charge followed up", extra={"job": "follow_up_charge", "outcome": outcome})
    return outcome


async def retry_charge(ctx: dict[str, Any], outbox_id: int) -> str:
    """A soft-declined charge's scheduled retry on the same PaymentIntent, once."""
    outcome = await recovery.retry_charge(
        _transactions(ctx), ctx["stripe"], ctx["settings"], outbox_id
    )
    log.info("charge retried", extra={"job": "retry_charge", "outcome": outcome})
    return outcome


async def write_off_charge(ctx: dict[str, Any], outbox_id: int) -> str:
    """A charge still unpaid written off as bad debt, once."""
    async with transaction(ctx["pool"]) as conn:
        outcome = await recovery.write_off_charge(conn, outbox_id)
    log.info("charge written off", extra={"job": "write_off_charge", "outcome": outcome})
    return outcome


async def send_charge_notice(ctx: dict[str, Any], outbox_id: int) -> str:
    """The balance-due email of a failed charge (carries an outbox id only)."""
    outcome = await notices.send_charge_notice(_transactions(ctx), ctx["settings"], outbox_id)
    log.info("charge notice", extra={"job": "send_charge_notice", "outcome": outcome})
    return outcome
