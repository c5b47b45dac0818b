"""The monthly superbill by email, for clients who opt in (DESIGN.md "Notifications": email
sent by a job from an outbox row, never in a request).

A daily cron queues last month's superbill for each opted-in client with a self-pay or
out-of-network session in it, once per client and month (superbill_emails); it only writes
rows (cron's max_tries is 1), so a day's failed run is the next day's. The job builds the
superbill and its PDF when it sends (the payload carries ids and the month: no PHI in Redis),
sends with nothing held (core's send_queued), and completes its row. A client who opted out
after the row was queued gets nothing.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from schemas.superbills import SuperbillEmailJob
from services.clients import service as clients
from services.core import audit, clock, mail, outbox
from services.core.auth import SYSTEM
from services.core.pdf import usd
from services.core.settings import Settings
from services.superbills import document, queries
from services.superbills.service import ENTITY, build_month, month_bounds, previous_month

RETRY_IN = timedelta(minutes=5)


async def queue_monthly_superbills(conn: asyncpg.Connection, settings: Settings) -> int:
    """Last month's superbill queued for each opted-in client with a session on it, once per
    client and month; how many were queued now."""
    tz = settings.statement_time_zone
    month = previous_month(clock.now(), tz)
    start, end = month_bounds(month, tz)
    wanted = await queries.list_opted_in_with_sessions(conn, start, end, tz)
    queued = await queries.insert_emails(conn, wanted, start.date(), clock.now())
    await outbox.add_many(
        conn,
        [(SuperbillEmailJob(client_id=c, month=month), f"superbill-{c}-{month}") for c in queued],
    )
    return len(queued)


async def prepare_superbill_email(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> mail.OutgoingEmail | None:
    """The message an outbox row asks for, its PDF attached; None (the row completed) when
    there is nothing to send (opted out since, or no session left on it)."""
    job = await outbox.lock(conn, outbox_id, SuperbillEmailJob)
    if job is None:
        return None
    preference = await queries.get_preferences(conn, job.client_id)
    client = await clients.visible_client(conn, SYSTEM, job.client_id)
    superbill = await build_month(conn, settings, client, job.month)
    if preference is None or not preference[0] or not superbill.sessions:
        await outbox.complete(conn, outbox_id)
        return None
    await audit.record(conn, SYSTEM, "read", ENTITY, [s.session_id for s in superbill.sessions])
    pdf = await document.render(conn, settings, superbill)
    body = (
        f"Hello {client.first_name},\n\n"
        f"Your superbill for {job.month} is attached: {len(superbill.sessions)} session(s), "
        f"{usd(superbill.total_paid_cents)} paid.\n"
        "Send it to your insurance company to ask for out-of-network reimbursement.\n\n"
        f"You can stop these emails in the app: {settings.app_url}/billing/superbills\n"
    )
    return mail.OutgoingEmail(
        to=client.email,
        subject=f"Your superbill for {job.month}",
        body=body,
        attachments=(
            mail.Attachment(
                filename=f"superbill-{job.month}.pdf", content_type="application/pdf", data=pdf
            ),
        ),
    )


async def send_superbill_email(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> str:
    """One outbox row's email; the SMTP call holds no transaction or lock."""
    return await mail.send_queued(
        pool, settings, outbox_id,
        lambda conn: prepare_superbill_email(conn, settings, outbox_id), RETRY_IN,
    )  # fmt: skip
