"""Schedules as the daily cron lives them (issue 18's schedule edge cases), day by day over
named dates (the clock frozen at each): the anchor day itself, biweekly parity kept across the
turn of the year and both daylight-saving changes, payouts on public holidays like any other
day, and schedules changed mid-period (weekly to biweekly and back, the anchor weekday moved
mid-week, a second run on a payout day), and the next payout date shown once today's is made.
Each payout covers exactly the sessions whose edit
window closed since the one before: none lost, none paid twice."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payouts import PayoutScheduleIn
from services.core import clock
from services.core.transactions import Transactions
from services.payouts.runs import run_payouts
from services.payouts.schedules import cutoff_of, set_payout_schedule
from tests import factories as f
from tests.payouts import run_world as r
from tests.payouts import world as w

Changes = dict[date, PayoutScheduleIn]


def weekly(day: int) -> PayoutScheduleIn:
    return PayoutScheduleIn(kind="weekly", anchor_weekday=day)


def biweekly(anchor: date) -> PayoutScheduleIn:
    return PayoutScheduleIn(kind="biweekly", anchor_date=anchor)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def _live(
    db: asyncpg.Connection, first: date, last: date, changes: Changes,
    start: PayoutScheduleIn | None = None,
) -> list[date]:  # fmt: skip
    """A provider with a session completed at 15:00 every day from a week before `first`; the
    cron run at 01:00 and again at 02:00 each day (the second makes nothing); a schedule change
    at 14:00 on its day. Checks what each payout covers; returns the payouts' dates."""
    ops = await f.make_ops(db)
    provider = await f.make_provider_actor(db)
    pid = provider.provider_id
    assert pid is not None
    sessions: dict[int, datetime] = {}
    for n, day in enumerate(_days(first - timedelta(days=7), last)):
        sessions[10_000 + n] = _at(day, 15)
        await w.session_entry(db, pid, uuid.uuid4(), 10_000 + n, _at(day, 15))
    if start is not None:
        clock.CLOCK.freeze(_at(first - timedelta(days=1), 14))
        await set_payout_schedule(db, ops, pid, start, r.RULES.edit_window_hours)
    for day in _days(first, last):
        for hour in (1, 2):
            clock.CLOCK.freeze(_at(day, hour))
            tally = await run_payouts(Transactions.within(db), r.RULES, day)
            assert hour == 1 or tally.created + tally.held == 0
        if day in changes:
            clock.CLOCK.freeze(_at(day, 14))
            await set_payout_schedule(db, ops, pid, changes[day], r.RULES.edit_window_hours)
    return await _covered_once(db, pid, sessions)


async def _covered_once(
    db: asyncpg.Connection, pid: uuid.UUID, sessions: dict[int, datetime]
) -> list[date]:
    """Each payout's sessions are those whose window closed after the previous cutoff's and by
    its own; its amount theirs; no session in two payouts."""
    rows = await db.fetch(
        "SELECT p.run_date, p.period_end, p.amount_cents, l.amount_cents AS line "
        "FROM payouts p JOIN payout_lines l ON l.payout_id = p.id WHERE p.provider_id = $1",
        pid,
    )  # fmt: skip
    lines: dict[date, list[int]] = defaultdict(list)
    amounts: dict[date, int] = {}
    for row in rows:
        lines[row["run_date"]].append(row["line"])
        amounts[row["run_date"]] = row["amount_cents"]
        assert row["period_end"] == cutoff_of(row["run_date"])
    since: datetime | None = None
    for day in sorted(lines):
        closed = cutoff_of(day) - timedelta(hours=r.RULES.edit_window_hours)
        due = sorted(c for c, at in sessions.items()
                     if at <= closed and (since is None or at > since))  # fmt: skip
        assert sorted(lines[day]) == due, day
        assert amounts[day] == sum(due)
        since = closed
    every = [x for day in lines for x in lines[day]]
    assert len(every) == len(set(every))
    # What no payout covered yet is still owed: nothing lost.
    assert await r.balance(db, "provider_payable", pid) == sum(set(sessions) - set(every))
    return sorted(lines)


async def test_weekly_to_biweekly_mid_period_and_back(db: asyncpg.Connection) -> None:
    # Paid Monday 2 November (the default); on Wednesday the 4th biweekly from Monday the 16th:
    # the 9th and the 23rd pay nothing, the 16th and the 30th pay all that closed since; back to
    # weekly on Thursday 3 December: Monday the 7th. 1 November (DST ends in the US) is no
    # matter: cutoffs are UTC midnights.
    changes = {date(2026, 11, 4): biweekly(date(2026, 11, 16)),
               date(2026, 12, 3): weekly(1)}  # fmt: skip
    paid = await _live(db, date(2026, 11, 1), date(2026, 12, 13), changes)
    assert paid == [date(2026, 11, 2), date(2026, 11, 16), date(2026, 11, 30), date(2026, 12, 7)]


async def test_the_anchor_weekday_moved_mid_week(db: asyncpg.Connection) -> None:
    # Monday 2 November paid; on Tuesday moved to Thursday: Thursday the 5th pays the three days
    # since; on Thursday afternoon, after it, moved to Thursday again (the same day: no second
    # payout) then on Wednesday the 11th to Tuesday: the 17th, six days on, pays the rest.
    changes = {date(2026, 11, 3): weekly(4), date(2026, 11, 5): weekly(4),
               date(2026, 11, 11): weekly(2)}  # fmt: skip
    paid = await _live(db, date(2026, 11, 2), date(2026, 11, 23), changes)
    assert paid == [date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 17)]


async def test_biweekly_parity_across_the_year_and_daylight_saving(
    db: asyncpg.Connection,
) -> None:
    # Set on 30 November with its anchor in January: the parity reaches back to 7 December and
    # runs on across New Year and 14 March (DST starts in the US), every 14 days exactly.
    paid = await _live(db, date(2026, 12, 1), date(2027, 3, 31), {},
                       start=biweekly(date(2027, 1, 4)))  # fmt: skip
    assert paid == [date(2026, 12, 7) + timedelta(days=14 * n) for n in range(9)]
    assert paid[-2:] == [date(2027, 3, 15), date(2027, 3, 29)]


@pytest.mark.parametrize(
    ("weekday", "holidays"),
    [(4, [date(2026, 11, 26)]),  # Thanksgiving, a Thursday
     (5, [date(2026, 12, 25), date(2027, 1, 1)])],  # Christmas and New Year's Day, Fridays
)  # fmt: skip
async def test_a_payout_day_that_is_a_holiday_pays_that_day(
    db: asyncpg.Connection, weekday: int, holidays: list[date]
) -> None:
    first, last = holidays[0] - timedelta(days=6), holidays[-1] + timedelta(days=1)
    paid = await _live(db, first, last, {}, start=weekly(weekday))
    assert paid == holidays


async def test_once_todays_payout_is_made_the_next_is_a_period_on(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    provider = await r.provider_owed(db, api, token, [9_000], account=False)
    await r.schedule_today(api, ops, provider)
    url = f"/providers/{provider.provider_id}/payout-schedule"
    today = clock.today()
    before = (await api.get(url, headers=token(provider))).json()
    assert (before["next_payout_date"], before["expected"]["amount_cents"]) == (
        today.isoformat(), 9_000)  # fmt: skip
    assert (await r.run(db)).held == 1  # made (held: no account yet)
    after = (await api.get(url, headers=token(provider))).json()
    assert (after["next_payout_date"], after["expected"]["amount_cents"]) == (
        (today + timedelta(days=7)).isoformat(), 0)  # fmt: skip
