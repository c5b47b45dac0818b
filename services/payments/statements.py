"""What a client sees of their money: charges and refunds in words, the balance, the monthly
statement; and what ops see: failed payments and balances due (issue 17 item 7).

Balances and statements are read from the ledger's client_receivable (DESIGN.md "Money": the
ledger is the one place money is kept), so a later kind of entry (a write-off, a payment with
another card) changes them without a change here. Of the receivable, what is under way (charges
queued or with Stripe, refunds with Stripe) and what ops still review is shown apart; the rest
is owed now (positive) or the client's credit (negative).

A statement's month is in the platform's time zone (settings.statement_time_zone): clients have
no time zone on file, and a month must mean the same instants for the client, ops and the
ledger. Its lines are the month's entries on the receivable, so closing = opening + Σ lines.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Final, TypeVar

import asyncpg
import msgspec

from schemas.payments import (
    BalanceDueOut,
    ClientBalanceOut,
    ClientChargeOut,
    ClientRefundOut,
    FailedChargeOut,
    StatementLineKind,
    StatementLineOut,
    StatementOut,
    StatementSessionOut,
    StatementTotalsOut,
)
from services.clients import service as clients
from services.core import audit, months
from services.core.auth import Actor
from services.core.months import MonthError, MonthRefusal
from services.core.pagination import After, Page, decode_cursor, encode_cursor, page_of
from services.core.settings import Settings
from services.payments.errors import BadMonth
from services.payments.queries import statements as q

CHARGE = "client_charge"
REFUND = "client_refund"
BALANCE = "client_balance"
STATEMENT = "client_statement"

_DECLINES: Final = {
    "insufficient_funds": "the card was declined for insufficient funds",
    "expired_card": "the card has expired",
    "authentication_required": "your bank asks you to confirm this payment: pay it in the app",
    "lost_card": "the card was declined",
    "stolen_card": "the card was declined",
    "incorrect_cvc": "the card's security code was refused",
    "processing_error": "the card network had an error: it will be tried again",
}
_FAILURES: Final = {
    "no_card_on_file": "no card on file: add a card to pay it",
    "below_stripe_minimum": "under the 50¢ card minimum: it stays on your balance",
    "authentication_required": _DECLINES["authentication_required"],
    "expired_card": _DECLINES["expired_card"],
}


def usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def failure_words(failure_code: str | None, decline_code: str | None) -> str | None:
    """Why a charge did not go through, for the client; None when nothing failed."""
    if failure_code is None and decline_code is None:
        return None
    if decline_code in _DECLINES:
        return _DECLINES[decline_code]
    if failure_code in _FAILURES:
        return _FAILURES[failure_code]
    if failure_code and failure_code.startswith("refund_"):
        return "the card refused the refund: the amount stays a credit on your account"
    return "the card was declined" if failure_code == "card_declined" else "it did not go through"


def session_words(session_date: date | None, provider_name: str | None) -> str:
    if session_date is None:
        return "Your account"
    with_whom = f" with {provider_name}" if provider_name else ""
    return f"Session on {session_date.isoformat()}{with_whom}"


def _card(brand: str | None, last4: str | None) -> str:
    return f" ({brand.title()} ending {last4})" if brand and last4 else ""


def charge_words(kind: str, session_date: date | None, provider_name: str | None) -> str:
    what = {
        "completion": "estimated share, charged at completion",
        "true_up": "adjustment after your insurer's decision",
        "balance": "balance due",
    }.get(kind, kind.replace("_", " "))
    return f"{session_words(session_date, provider_name)}: {what}"


async def _sessions(
    conn: asyncpg.Connection, settings: Settings, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, q.SessionFacts]:
    wanted = sorted({i for i in ids if i is not None})
    return await q.list_sessions(conn, wanted, settings.statement_time_zone) if wanted else {}


def _about(
    sessions: dict[uuid.UUID, q.SessionFacts], session_id: uuid.UUID | None
) -> tuple[date | None, str | None]:
    facts = sessions.get(session_id) if session_id is not None else None
    return (None, None) if facts is None else (facts.session_date, facts.provider_name)


L = TypeVar("L", q.ChargeLine, q.RefundLine)


async def _client_page(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, whose: tuple[uuid.UUID, str],
    fetch: Callable[[After | None, int], Awaitable[list[L]]], cursor: str | None, limit: int,
) -> tuple[Page[L], dict[uuid.UUID, q.SessionFacts]]:  # fmt: skip
    """A page of the client's rows (404 unless the caller may see the client), one audit row
    per row read, and the sessions they are about."""
    client_id, entity = whose
    await clients.visible_client(conn, actor, client_id)
    page = await page_of(fetch, cursor, limit)
    await audit.record(conn, actor, "read", entity, [row.id for row in page.items])
    return page, await _sessions(conn, settings, (row.session_id for row in page.items))


async def list_charges(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, client_id: uuid.UUID,
    cursor: str | None, limit: int,
) -> Page[ClientChargeOut]:  # fmt: skip
    """The client's charges, newest first, each in words."""
    fetch = functools.partial(q.list_charges, conn, client_id)
    page, sessions = await _client_page(conn, settings, actor, (client_id, CHARGE), fetch,
                                        cursor, limit)  # fmt: skip

    def out(c: q.ChargeLine) -> ClientChargeOut:
        day, provider = _about(sessions, c.session_id)
        return ClientChargeOut(
            id=c.id, created_at=c.created_at, kind=c.kind,
            what_for=charge_words(c.kind, day, provider), session_id=c.session_id,
            session_date=day, provider_name=provider, true_up_reason=c.true_up_reason,
            amount_cents=c.amount_cents, status=c.status, card_brand=c.card_brand,
            card_last4=c.card_last4, failure=failure_words(c.failure_code, c.decline_code),
            charged_at=c.succeeded_at, failed_at=c.failed_at,
        )  # fmt: skip

    return page.map(out)


async def list_refunds(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, client_id: uuid.UUID,
    cursor: str | None, limit: int,
) -> Page[ClientRefundOut]:  # fmt: skip
    """The client's refunds (and credits taken off a balance due), newest first."""
    fetch = functools.partial(q.list_refunds, conn, client_id)
    page, sessions = await _client_page(conn, settings, actor, (client_id, REFUND), fetch,
                                        cursor, limit)  # fmt: skip

    def out(r: q.RefundLine) -> ClientRefundOut:
        day, provider = _about(sessions, r.session_id)
        applied = r.status == "applied"
        how = ": taken off your balance due" if applied else ": refund to your card"
        return ClientRefundOut(
            id=r.id, created_at=r.created_at, charge_id=r.charge_id,
            what_for=session_words(day, provider) + how, session_id=r.session_id,
            session_date=day, provider_name=provider, reason=r.reason,
            amount_cents=r.amount_cents, status=r.status,
            to_card=not applied, card_brand=r.card_brand, card_last4=r.card_last4,
            failure=failure_words(r.failure_code, None) if r.status == "failed" else None,
            refunded_at=r.succeeded_at,
        )  # fmt: skip

    return page.map(out)


def _net(row: q.BalanceRow) -> int:
    """Owed and nothing under way (negative: the client's credit)."""
    under_way = row.being_charged_cents - row.being_refunded_cents + row.in_review_cents
    return row.balance_cents - under_way


async def owed_now(conn: asyncpg.Connection, client_id: uuid.UUID) -> int:
    """What the client owes that no charge is taking and ops do not review (negative: their
    credit), from the ledger."""
    row = await q.get_balance(conn, client_id)
    return 0 if row is None else _net(row)


async def get_balance(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID
) -> ClientBalanceOut:
    """What the client owes now, what is under way, their credit and what was written off."""
    await clients.visible_client(conn, actor, client_id)
    await audit.record(conn, actor, "read", BALANCE, [client_id])
    row = await q.get_balance(conn, client_id)
    if row is None:
        return ClientBalanceOut(
            client_id=client_id, balance_cents=0, owed_now_cents=0, being_charged_cents=0,
            being_refunded_cents=0, in_review_cents=0, credit_cents=0, written_off_cents=0,
            oldest_due_at=None,
        )  # fmt: skip
    net = _net(row)
    return ClientBalanceOut(
        client_id=client_id, balance_cents=row.balance_cents, owed_now_cents=max(net, 0),
        being_charged_cents=row.being_charged_cents,
        being_refunded_cents=row.being_refunded_cents, in_review_cents=row.in_review_cents,
        credit_cents=max(-net, 0), written_off_cents=row.written_off_cents,
        oldest_due_at=row.oldest_due_at if net > 0 else None,
    )  # fmt: skip


_MONTH_REFUSALS: dict[MonthRefusal, str] = {
    "malformed": "month is YYYY-MM",
    "too_early": "month is after 2000",
    "not_begun": "the month has not begun",
}


def month_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month in the time zone; 422 naming `month` otherwise."""
    try:
        return months.month_bounds(month, time_zone)
    except MonthError as error:
        raise BadMonth(_MONTH_REFUSALS[error.reason], field="month") from error


# What each entry kind is, for the client: its part of the statement and its words.
_LINES: Final[dict[str, tuple[StatementLineKind, str]]] = {
    "completion": ("session", "estimated share"),
    "completion_edited": ("session", "estimate corrected"),
    "claim_corrected": ("session", "claim corrected"),
    "claim_voided": ("session", "claim voided"),
    "claim_remitted": ("insurer", "your insurer's decision"),
    "true_up_carried": ("insurer", "part Hearth covers after review"),
    "card_captured": ("payment", "card payment"),
    "refund": ("refund", "refund to your card"),
    "refund_failed": ("refund", "refund returned by the card: owed to you again"),
    "dispute_opened": ("other", "card payment disputed"),
    "dispute_won": ("other", "dispute decided"),
    "bad_debt": ("other", "balance written off"),
}


def _line(e: q.EntryLine, sessions: dict[uuid.UUID, q.SessionFacts]) -> StatementLineOut:
    kind, words = _LINES.get(e.kind, ("other", e.kind.replace("_", " ")))
    if e.kind == "claim_remitted" and e.reason:
        words = f"{words}: {e.reason}"
    if kind in ("payment", "refund"):
        words += _card(e.card_brand, e.card_last4)
    if e.kind == "bad_debt" and e.amount_cents > 0:
        words = "written-off balance reinstated: paid afterwards"
    day, provider = _about(sessions, e.session_id)
    return StatementLineOut(
        occurred_at=e.occurred_at, kind=kind,
        description=f"{session_words(day, provider)}: {words}",
        amount_cents=e.amount_cents, session_id=e.session_id, session_date=day,
        provider_name=provider,
    )  # fmt: skip


def _by_session(lines: Iterable[StatementLineOut]) -> list[StatementSessionOut]:
    """Each session the lines touch, in the order it first appears, its parts summed."""
    found: dict[uuid.UUID, dict[str, int]] = {}
    about: dict[uuid.UUID, StatementLineOut] = {}
    part = {"session": "estimate", "insurer": "insurer", "payment": "paid", "refund": "refunded"}
    for line in lines:
        if line.session_id is None:
            continue
        sums = found.setdefault(line.session_id, dict.fromkeys(part.values(), 0))
        about.setdefault(line.session_id, line)
        if line.kind in part:
            sums[part[line.kind]] += line.amount_cents
    return [
        StatementSessionOut(
            session_id=sid, session_date=about[sid].session_date,
            provider_name=about[sid].provider_name, estimate_cents=s["estimate"],
            insurer_adjustment_cents=s["insurer"], paid_cents=s["paid"],
            refunded_cents=s["refunded"],
        )
        for sid, s in found.items()
    ]  # fmt: skip


async def build_statement(
    conn: asyncpg.Connection, settings: Settings, client_id: uuid.UUID, month: str
) -> StatementOut:
    """The month's statement (no authorization, no audit: the caller's)."""
    tz = settings.statement_time_zone
    start, end = month_bounds(month, tz)
    opening, closing = await q.get_receivable_at(conn, client_id, start, end)
    entries = await q.list_month_entries(conn, client_id, start, end)
    sessions = await _sessions(conn, settings, (e.session_id for e in entries))
    lines = [_line(e, sessions) for e in entries]
    totals = dict.fromkeys(("session", "insurer", "payment", "refund", "other"), 0)
    for line in lines:
        totals[line.kind] += line.amount_cents
    return StatementOut(
        client_id=client_id, month=month, time_zone=tz, period_start=start, period_end=end,
        opening_balance_cents=opening, closing_balance_cents=closing,
        totals=StatementTotalsOut(
            sessions_cents=totals["session"], insurer_cents=totals["insurer"],
            payments_cents=totals["payment"], refunds_cents=totals["refund"],
            other_cents=totals["other"],
        ),
        sessions=_by_session(lines), lines=lines,
    )  # fmt: skip


async def get_statement(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, client_id: uuid.UUID, month: str
) -> StatementOut:
    """The client's statement of a month (YYYY-MM) in the platform's time zone."""
    await clients.visible_client(conn, actor, client_id)
    statement = await build_statement(conn, settings, client_id, month)
    await audit.record(conn, actor, "read", STATEMENT, [client_id])
    return statement


async def list_failed(
    conn: asyncpg.Connection, actor: Actor,
    filters: tuple[str | None, uuid.UUID | None, str | None, str | None, datetime | None, bool],
    cursor: str | None, limit: int,
) -> Page[FailedChargeOut]:  # fmt: skip
    """Ops: charges that did not go through, oldest first; filters (status, client, kind,
    failure or decline code, created since, settled ones too: a credit closed them)."""
    status, client_id, kind, code, since, settled = filters
    statuses = [status] if status else ["failed", "balance_due"]
    page = await page_of(
        lambda a, n: q.list_failed(conn, statuses, (client_id, kind, code, since, settled), a, n),
        cursor, limit,
    )  # fmt: skip
    await audit.record(conn, actor, "read", CHARGE, [c.id for c in page.items])
    return page.map(
        lambda c: FailedChargeOut(
            **msgspec.structs.asdict(c),
            failure=failure_words(c.failure_code, c.decline_code) or "did not go through",
        )
    )


async def list_balances_due(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[BalanceDueOut]:
    """Ops: every client owing something not being charged, oldest balance first."""
    rows = await q.list_balances_due(conn, decode_cursor(cursor), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    await audit.record(conn, actor, "read", BALANCE, [r.client_id for r in rows])
    last = rows[-1] if more else None
    return Page(
        items=[
            BalanceDueOut(
                client_id=r.client_id, client_name=r.client_name,
                owed_now_cents=r.owed_now_cents, balance_cents=r.balance_cents,
                being_charged_cents=r.being_charged_cents, failed_charges=r.failed_charges,
                oldest_due_at=r.oldest_due_at,
            )
            for r in rows
        ],
        next_cursor=None if last is None else encode_cursor(last.oldest_due_at, last.client_id),
    )  # fmt: skip
