"""Calendar months in a time zone, as statements and superbills read them (clients have no time
zone on file, so both use the platform's). A month is named YYYY-MM.

The refusals are a plain error with a reason, not a problem: each domain says it in its own
words and code (core knows no domain's vocabulary).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from services.core import clock

MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
FIRST_YEAR = 2000

MonthRefusal = Literal["malformed", "too_early", "not_begun"]


class MonthError(ValueError):
    """A month that is not YYYY-MM (`malformed`), before 2000 (`too_early`) or that has not
    begun by the clock (`not_begun`)."""

    def __init__(self, reason: MonthRefusal) -> None:
        super().__init__(reason)
        self.reason: MonthRefusal = reason


def month_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month that has begun, in the time zone; MonthError otherwise."""
    found = MONTH.match(month)
    if found is None:
        raise MonthError("malformed")
    year, number = int(found[1]), int(found[2])
    if year < FIRST_YEAR:
        raise MonthError("too_early")
    zone = ZoneInfo(time_zone)
    start = datetime(year, number, 1, tzinfo=zone)
    if start > clock.now():
        raise MonthError("not_begun")
    return start, datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)


def previous_month(now: datetime, time_zone: str) -> date:
    """The first day of the month before `now`'s, in the time zone."""
    first = now.astimezone(ZoneInfo(time_zone)).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)
