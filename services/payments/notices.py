"""The balance-due email a failed charge sends (DESIGN.md "Notifications"): one per failure
(the outbox row's dedupe key notice-{charge}-{n}), sent by a job that carries the outbox row's
id only; the address is read in the job, never logged.

It says what is owed, what it was for in plain words (a session's date, never its codes), what
happens next (retries on given days, or nothing until the client acts) and how to pay: the
on-session page `{app_url}/pay/{charge_id}` a frontend serves, where Stripe.js confirms the
charge's PaymentIntent with the saved card or another one (and any authentication the bank asks
for).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from schemas.payments import ChargeNoticeJob, ChargeRow, RecoveryRow
from services.clients import service as clients
from services.core import mail, outbox
from services.core.auth import SYSTEM
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments import queries as q
from services.payments.queries import recovery as rq
from services.therapy_sessions import service as therapy_sessions

RETRY_IN = timedelta(minutes=5)


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


async def _what_for(conn: asyncpg.Connection, charge: ChargeRow) -> str:
    if charge.kind == "completion":
        session = await therapy_sessions.get_session(conn, SYSTEM, charge.source_id)
        return f"your share of your therapy session on {session.starts_at:%B %-d, %Y}"
    if charge.kind == "true_up":
        return ("the rest of your share of a therapy session, after your insurance processed "
                "the claim")  # fmt: skip
    return "your balance with Hearth"


def _next_step(settings: Settings, recovery: RecoveryRow) -> str:
    kind = recovery.decline_class
    if kind == "authentication":
        return ("Your bank asks you to confirm this payment yourself. Open the link below and "
                "follow your bank's steps: it takes a minute.")  # fmt: skip
    if kind == "no_card":
        return "There is no card on file for your account."
    if kind == "soft" and recovery.status == "retrying":
        days = ", ".join(
            f"{recovery.first_failed_at + timedelta(days=d):%B %-d}" for d in settings.retry_days
        )
        return (f"Your card was declined. We will try it again on {days}, unless you pay "
                "sooner with this or another card.")  # fmt: skip
    return "Your card was declined, and we will not try it again: please use another card."


async def prepare_notice(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> mail.OutgoingEmail | None:
    """The email an outbox row asks for; None (the row completed) when the charge was paid
    meanwhile or is gone."""
    job = await outbox.lock(conn, outbox_id, ChargeNoticeJob)
    if job is None:
        return None
    charge = await q.lock_charge(conn, job.charge_id)
    recovery = await rq.lock_recovery(conn, job.charge_id)
    if charge is None or recovery is None or charge.status not in ("failed", "balance_due"):
        await outbox.complete(conn, outbox_id)
        return None
    client = await clients.get_client(conn, SYSTEM, charge.client_id)  # audited: a PHI read
    applied = await q.sum_refunds_of_charge(conn, charge.id, ("applied",))
    due = charge.amount_cents - applied
    what = await _what_for(conn, charge)
    link = f"{settings.app_url}/pay/{charge.id}"
    subject = ("Please confirm your payment to Hearth" if recovery.decline_class ==
               "authentication" else "Your payment to Hearth did not go through")  # fmt: skip
    body = (
        f"Hello {client.first_name},\n\n"
        f"We could not collect {_dollars(due)} for {what}.\n\n"
        f"{_next_step(settings, recovery)}\n\n"
        f"To pay now, open:\n\n{link}\n\n"
        "Questions about this balance? Reply to this email.\n"
    )
    return mail.OutgoingEmail(to=client.email, subject=subject, body=body)


async def send_charge_notice(tx: Transactions, settings: Settings, outbox_id: int) -> str:
    """The send_charge_notice job's body: the SMTP call holds no transaction or lock."""
    async with tx() as conn:
        message = await prepare_notice(conn, settings, outbox_id)
    if message is None:
        return "nothing to send"
    try:
        await mail.send(settings, message)
    except mail.MailUnavailable as exc:
        async with tx() as conn:
            await outbox.record_failure(conn, outbox_id, str(exc), RETRY_IN)
        return "mail server unavailable; retrying later"
    except mail.RecipientRefused:
        async with tx() as conn:  # a bad address stays bad: ops see the balance due anyway
            await outbox.complete(conn, outbox_id)
        return "recipient refused"
    async with tx() as conn:
        await outbox.complete(conn, outbox_id)
    return "sent"
