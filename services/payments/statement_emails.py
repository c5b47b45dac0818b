"""Statements by email (DESIGN.md "Charging clients": the client gets a statement before any
true-up charge; "Notifications": email sent by a job from an outbox row, never in a request).

- A true-up notice: written with the true-up's charge (true_ups.py), in the same transaction,
  so once per true-up; it says what the insurer decided, what will be charged, to which card
  and from when. The charge's own outbox row waits out the notice period (its available_at).
- A monthly statement: a cron queues last month's for each client whose account moved in it,
  once per client and month (client_statement_emails), each sent by the same job.

The job reads what it sends when it sends it (the payload carries ids and instants only: no
PHI in Redis), sends with nothing held, and completes its row; a mail server that is down
brings the row back later.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from schemas.payments import StatementEmailJob, StatementOut
from schemas.true_ups import TrueUpOut
from services.core import audit, clock, mail, months, outbox
from services.core.auth import SYSTEM
from services.core.settings import Settings
from services.payments.queries import statements as q
from services.payments.statements import (
    STATEMENT,
    build_statement,
    month_bounds,
    session_words,
    usd,
)

NOTICE = "true_up_notice"
RETRY_IN = timedelta(minutes=5)


async def add_true_up_notice(
    conn: asyncpg.Connection, true_up: TrueUpOut, amount_cents: int, charge_at: datetime | None
) -> None:
    """The true-up's statement email, queued in the caller's transaction: `amount_cents` (the
    true-up's, less any credit) charged at `charge_at`, or (None) left a balance due."""
    job = StatementEmailJob(
        kind="true_up_notice", client_id=true_up.client_id, true_up_id=true_up.id,
        amount_cents=amount_cents, charge_at=charge_at,
    )  # fmt: skip
    await outbox.add(conn, job, dedupe_key=f"true-up-notice-{true_up.id}")


def _local_day(instant: datetime, time_zone: str) -> date:
    return instant.astimezone(ZoneInfo(time_zone)).date()


async def _notice(
    conn: asyncpg.Connection, settings: Settings, job: StatementEmailJob
) -> mail.OutgoingEmail | None:
    assert job.true_up_id is not None
    facts = await q.get_notice_facts(conn, job.true_up_id)
    if facts is None:
        return None
    await audit.record(conn, SYSTEM, "read", NOTICE, [job.true_up_id])
    ids = [] if facts.session_id is None else [facts.session_id]
    found = await q.list_sessions(conn, ids, settings.statement_time_zone)
    about = found.get(facts.session_id) if facts.session_id else None
    session = session_words(about.session_date if about else None,
                            about.provider_name if about else None)  # fmt: skip
    owed = facts.amount_cents if job.amount_cents is None else job.amount_cents
    amount = usd(owed)
    if owed < facts.amount_cents:
        credit = usd(facts.amount_cents - owed)
        amount += f" ({usd(facts.amount_cents)} less your credit of {credit})"
    if job.charge_at is not None:
        day = _local_day(job.charge_at, settings.statement_time_zone).isoformat()
        card = (
            f"your {facts.card_brand.title()} card ending {facts.card_last4}"
            if facts.card_brand and facts.card_last4
            else "your card on file"
        )
        what = (
            f"We will charge {amount} to {card} on {day}. To pay another way or ask about it, "
            f"open {settings.app_url}/billing before then."
        )
    else:
        what = (
            f"{amount} is now due on your account. No card is charged for it automatically: "
            f"pay it at {settings.app_url}/billing."
        )
    body = (
        f"Hello {facts.first_name},\n\n"
        f"Your insurer has processed the claim for your {session[0].lower()}{session[1:]}.\n"
        f"What they decided: {facts.reason}.\n\n{what}\n\n"
        "Your statements, charges and refunds are in the Hearth app.\n"
    )
    subject = f"Your insurer's decision: {usd(owed)} to pay"
    return mail.OutgoingEmail(to=facts.email, subject=subject, body=body)


def _monthly_body(first_name: str, statement: StatementOut, app_url: str) -> str:
    t = statement.totals
    rows = [
        ("Opening balance", statement.opening_balance_cents),
        ("Sessions billed", t.sessions_cents),
        ("Insurer adjustments", t.insurer_cents),
        ("Card payments", t.payments_cents),
        ("Refunds", t.refunds_cents),
        ("Other", t.other_cents),
        ("Closing balance", statement.closing_balance_cents),
    ]
    table = "\n".join(f"  {label:<22}{usd(cents):>12}" for label, cents in rows)
    return (
        f"Hello {first_name},\n\nYour Hearth statement for {statement.month}"
        f" ({statement.time_zone}):\n\n{table}\n\n"
        "A negative balance is a credit owed to you. Every line is in the app:\n"
        f"{app_url}/billing/statements/{statement.month}\n"
    )


async def prepare_statement_email(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int
) -> mail.OutgoingEmail | None:
    """The message an outbox row asks for; None when there is nothing to send (the row is
    then completed)."""
    job = await outbox.lock(conn, outbox_id, StatementEmailJob)
    if job is None:
        return None
    if job.kind == "true_up_notice":
        message = await _notice(conn, settings, job)
    else:
        assert job.month is not None
        statement = await build_statement(conn, settings, job.client_id, job.month)
        await audit.record(conn, SYSTEM, "read", STATEMENT, [job.client_id])
        to, first_name = await q.get_client_contact(conn, job.client_id)
        message = mail.OutgoingEmail(
            to=to, subject=f"Your Hearth statement for {job.month}",
            body=_monthly_body(first_name, statement, settings.app_url),
        )  # fmt: skip
    if message is None:
        await outbox.complete(conn, outbox_id)
    return message


async def send_statement_email(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> str:
    """One outbox row's email; the SMTP call holds no transaction or lock."""
    return await mail.send_queued(
        pool, settings, outbox_id,
        lambda conn: prepare_statement_email(conn, settings, outbox_id), RETRY_IN,
    )  # fmt: skip


async def queue_monthly_statements(conn: asyncpg.Connection, settings: Settings) -> int:
    """Last month's statement queued for each client whose account moved in it, once per
    client and month; how many were queued now."""
    month = months.previous_month(clock.now(), settings.statement_time_zone)
    name = f"{month:%Y-%m}"
    active = await q.list_active_clients(conn, *month_bounds(name, settings.statement_time_zone))
    queued = await q.insert_statement_emails(conn, active, month, clock.now())
    await outbox.add_many(
        conn,
        [
            (StatementEmailJob(kind="monthly", client_id=c, month=name), f"statement-{c}-{name}")
            for c in queued
        ],
    )
    return len(queued)
