"""The payout notice (issue 18 item 4): once a payout's transfer is paid, the provider gets an
email with its statement's PDF attached (DESIGN.md "Notifications": sent by a job from an
outbox row the paid transfer's transaction wrote, never in a request). The job builds the
statement when it sends (the payload carries the payout's id only: no PHI in Redis), reads it
as the system (audited), and sends with nothing held (core's send_queued)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from schemas.payout_statements import PayoutNoticeJob
from services.core import outbox
from services.core.auth import SYSTEM
from services.core.mail import Attachment, OutgoingEmail, send_queued
from services.core.pdf import usd
from services.core.settings import Settings
from services.payouts import statements
from services.providers import service as providers

RETRY_IN = timedelta(minutes=5)


async def queue_notice(conn: asyncpg.Connection, payout_id: uuid.UUID) -> None:
    """The paid payout's notice, queued once (in the transaction that recorded it paid)."""
    await outbox.add(conn, PayoutNoticeJob(payout_id=payout_id),
                     dedupe_key=f"payout-notice-{payout_id}")  # fmt: skip


async def queue_notices(conn: asyncpg.Connection, payout_ids: list[uuid.UUID]) -> None:
    """`queue_notice` of many payouts recorded paid together."""
    await outbox.add_many(conn, [(PayoutNoticeJob(payout_id=p), f"payout-notice-{p}")
                                 for p in payout_ids])  # fmt: skip


async def prepare_notice(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> OutgoingEmail | None:
    job = await outbox.lock(conn, outbox_id, PayoutNoticeJob)
    if job is None:
        return None
    statement = await statements.get_statement(conn, settings, SYSTEM, job.payout_id)
    provider = await providers.get_provider(conn, SYSTEM, statement.provider_id)
    sessions = sum(1 for x in statement.lines if x.kind == "session")
    adjustments = len(statement.lines) - sessions
    day = statement.run_date.isoformat()
    body = (
        f"Hello {provider.first_name},\n\n"
        f"{settings.platform_name} has paid you {usd(statement.total_cents)} (payout of {day}):"
        f" {sessions} session(s), {usd(statement.sessions_cents)}, and {adjustments}"
        f" adjustment(s), {usd(statement.adjustments_cents)}.\n"
        "The statement is attached; it reaches your bank account on Stripe's schedule.\n\n"
        f"Your payouts in the app: {settings.app_url}/payouts\n"
    )
    pdf = statements.to_pdf(settings, statement)
    return OutgoingEmail(
        to=provider.email, subject=f"Your payout of {day}: {usd(statement.total_cents)}",
        body=body,
        attachments=(Attachment(filename=f"payout-{day}.pdf", content_type="application/pdf",
                                data=pdf),),
    )  # fmt: skip


async def send_payout_notice(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> str:
    """One outbox row's notice; the SMTP call holds no transaction or lock."""
    return await send_queued(
        pool, settings, outbox_id, lambda conn: prepare_notice(conn, settings, outbox_id), RETRY_IN
    )
