from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.core.clock import Clock
from services.core.months import MonthError, month_bounds, previous_month

ZONE = "America/New_York"


def test_a_month_runs_from_its_first_local_midnight_to_the_next(clock: Clock) -> None:
    clock.freeze(datetime(2026, 3, 10, tzinfo=UTC))
    start, end = month_bounds("2025-12", ZONE)
    assert (start.isoformat(), end.isoformat()) == (
        "2025-12-01T00:00:00-05:00",
        "2026-01-01T00:00:00-05:00",
    )
    assert month_bounds("2026-03", ZONE)[0] < clock.now()  # the month under way has begun


@pytest.mark.parametrize(
    ("month", "reason"),
    [("2026-13", "malformed"), ("26-01", "malformed"), ("2026-1", "malformed"),
     ("1999-12", "too_early"), ("2026-04", "not_begun")],
)  # fmt: skip
def test_a_bad_or_future_month_is_refused_with_its_reason(
    clock: Clock, month: str, reason: str
) -> None:
    clock.freeze(datetime(2026, 3, 31, 12, tzinfo=UTC))
    with pytest.raises(MonthError) as refused:
        month_bounds(month, ZONE)
    assert refused.value.reason == reason


def test_a_month_begins_at_local_midnight_not_utc(clock: Clock) -> None:
    clock.freeze(datetime(2026, 4, 1, 3, tzinfo=UTC))  # still 31 March in New York
    with pytest.raises(MonthError):
        month_bounds("2026-04", ZONE)
    assert month_bounds("2026-04", "UTC")[0] == datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "first"),
    [(datetime(2026, 1, 15, tzinfo=UTC), date(2025, 12, 1)),
     (datetime(2026, 3, 1, 3, tzinfo=UTC), date(2026, 1, 1)),  # 28 February in New York
     (datetime(2026, 3, 31, 23, tzinfo=UTC), date(2026, 2, 1))],
)  # fmt: skip
def test_the_previous_month_is_the_local_one(now: datetime, first: date) -> None:
    assert previous_month(now, ZONE) == first
