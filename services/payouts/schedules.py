"""Payout schedules and holds (DESIGN.md lifecycle step 8, issue 18 item 2), and what a payout
at a cutoff would pay, read from the ledger (the payout run reuses `payable_due`).

A schedule is weekly on an ISO weekday (Monday by default: a provider with no row), biweekly
every 14 days from an anchor date (its parity), or manual. Dates are UTC calendar dates and a
payout's cutoff is the start (00:00 UTC) of its date: it pays the sessions whose edit window
closed by then, and every other entry made by then. On a payout day itself the next payout is
today (the daily run pays it) until today's is made; a changed schedule applies from the
change on, and since the amount is the ledger's balance at the cutoff, nothing owed is lost or
counted twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from schemas.payouts import (
    MONDAY,
    PayableDue,
    PayoutHoldIn,
    PayoutHoldOut,
    PayoutScheduleIn,
    PayoutScheduleOut,
    PayoutScheduleRow,
    ReleaseHoldIn,
)
from services.core import audit, clock
from services.core.auth import Actor
from services.core.scope import owner_scope
from services.payouts.errors import BadSchedule, HoldAlreadyReleased, PayoutHoldNotFound
from services.payouts.queries import ledger_reads
from services.payouts.queries import schedules as q
from services.providers import service as providers

SCHEDULE = "payout_schedule"
HOLD = "payout_hold"
HISTORY = 50  # the newest schedules a provider's view shows

DEFAULT = PayoutScheduleRow(
    id=None, kind="weekly", anchor_weekday=MONDAY, anchor_date=None, reason=None,
    changed_by=None, created_at=None,
)  # fmt: skip


def next_payout_date(schedule: PayoutScheduleRow, today: date) -> date | None:
    """The first payout day on or after `today`; None for a manual schedule."""
    if schedule.kind == "weekly":
        assert schedule.anchor_weekday is not None
        return today + timedelta(days=(schedule.anchor_weekday - today.isoweekday()) % 7)
    if schedule.kind == "biweekly":
        assert schedule.anchor_date is not None
        return today + timedelta(days=(schedule.anchor_date - today).days % 14)
    return None


def cutoff_of(payout_date: date) -> datetime:
    """A payout's cutoff: the start of its day, UTC."""
    return datetime.combine(payout_date, time(0), UTC)


async def payable_due(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cutoff: datetime, edit_window_hours: int
) -> PayableDue:
    """What a payout with this cutoff would pay the provider, from provider_payable: sessions
    past their edit window at the cutoff, less recoupments, with every other entry made by then
    (payouts already frozen among them)."""
    window_end = cutoff - timedelta(hours=edit_window_hours)
    sessions_cents, sessions, recouped, other = await ledger_reads.get_payable_due(
        conn, provider_id, cutoff, window_end
    )
    return PayableDue(
        cutoff=cutoff, sessions_cents=sessions_cents, recoupments_cents=recouped,
        other_cents=other, amount_cents=sessions_cents - recouped + other, sessions=sessions,
    )  # fmt: skip


def _anchor(data: PayoutScheduleIn) -> tuple[int | None, date | None]:
    """The schedule's (weekday, date) as stored, or BadSchedule naming the field."""
    if data.kind == "weekly":
        if data.anchor_date is not None:
            raise BadSchedule("a weekly schedule has an anchor weekday, not a date",
                              field="anchor_date")  # fmt: skip
        return data.anchor_weekday or MONDAY, None
    if data.kind == "biweekly":
        if data.anchor_date is None:
            raise BadSchedule("a biweekly schedule needs an anchor date (a payout day)",
                              field="anchor_date")  # fmt: skip
        if data.anchor_weekday not in (None, data.anchor_date.isoweekday()):
            raise BadSchedule("a biweekly schedule pays on its anchor date's weekday",
                              field="anchor_weekday")  # fmt: skip
        return None, data.anchor_date
    for name in ("anchor_weekday", "anchor_date"):
        if getattr(data, name) is not None:
            raise BadSchedule(f"a manual schedule has no {name}", field=name)
    return None, None


async def view_schedule(
    conn: asyncpg.Connection, provider_id: uuid.UUID, edit_window_hours: int
) -> PayoutScheduleOut:
    history = await q.list_schedules(conn, provider_id, HISTORY)
    schedule = history[0] if history else DEFAULT
    holds = await q.list_open_holds(conn, provider_id)
    today = clock.today()
    payout_date = next_payout_date(schedule, today)
    if payout_date == today and await q.has_payout(conn, provider_id, cutoff_of(today)):
        payout_date = next_payout_date(schedule, today + timedelta(days=1))  # today's was made
    cutoff = clock.now() if payout_date is None else cutoff_of(payout_date)
    return PayoutScheduleOut(
        provider_id=provider_id, schedule=schedule, history=history, holds=holds,
        held=bool(holds), next_payout_date=payout_date,
        expected=await payable_due(conn, provider_id, cutoff, edit_window_hours),
    )  # fmt: skip


async def get_payout_schedule(
    conn: asyncpg.Connection, actor: Actor, provider_id: uuid.UUID, edit_window_hours: int
) -> PayoutScheduleOut:
    """The provider's schedule, open holds, next payout date and expected amount."""
    await providers.require_provider(conn, actor, provider_id)
    return await view_schedule(conn, provider_id, edit_window_hours)


async def set_payout_schedule(
    conn: asyncpg.Connection, actor: Actor, provider_id: uuid.UUID, data: PayoutScheduleIn,
    edit_window_hours: int,
) -> PayoutScheduleOut:  # fmt: skip
    """A new schedule in force from now; the old ones stay as its history (audited)."""
    await providers.require_provider(conn, actor, provider_id)
    anchor = _anchor(data)
    await q.lock_provider_schedules(conn, provider_id)
    await q.insert_schedule(conn, provider_id, data.kind, anchor, data.reason, actor.user_id,
                            clock.now())  # fmt: skip
    await audit.record(conn, actor, "update", SCHEDULE, [provider_id])
    return await view_schedule(conn, provider_id, edit_window_hours)


async def place_hold(
    conn: asyncpg.Connection, actor: Actor, provider_id: uuid.UUID, data: PayoutHoldIn
) -> PayoutHoldOut:
    await providers.require_provider(conn, actor, provider_id)
    hold = await q.insert_hold(conn, provider_id, data.reason, actor.user_id, clock.now())
    await audit.record(conn, actor, "create", HOLD, [hold.id])
    return hold


async def release_hold(
    conn: asyncpg.Connection, actor: Actor, hold_id: uuid.UUID, data: ReleaseHoldIn
) -> PayoutHoldOut:
    hold = await q.lock_hold(conn, hold_id, owner_scope(actor).provider_id)
    if hold is None:
        raise PayoutHoldNotFound("payout hold not found")
    if hold.released_at is not None:
        raise HoldAlreadyReleased("the hold was released before", field="hold_id")
    released = await q.update_hold_released(conn, hold_id, actor.user_id, data.reason,
                                            clock.now())  # fmt: skip
    await audit.record(conn, actor, "update", HOLD, [hold_id])
    return released
