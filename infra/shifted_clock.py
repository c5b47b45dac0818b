"""infra's clock: the system's, or shifted by HEARTH_CLOCK_SHIFT_TO (and _FROM) like Hearth's.

The simulators are the other party and the demo drives the API over HTTP only: neither shares
code with services/, so they read the variable here: in a run shifted to another day, the 271's
dates, the simulator's default "today" and the demo's bookings agree with the stack's.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta


def _instant(name: str, value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{name}: an instant with its offset, e.g. ...T15:00:00Z")
    return instant


def _offset(shift_to: str | None, shift_from: str | None) -> timedelta:
    if not shift_to:
        return timedelta(0)
    since = (
        _instant("HEARTH_CLOCK_SHIFT_FROM", shift_from)
        if shift_from
        else datetime.fromtimestamp(time.time(), UTC)
    )
    return _instant("HEARTH_CLOCK_SHIFT_TO", shift_to) - since


# Taken once, at start-up: SHIFT_TO at the real instant SHIFT_FROM (else this process's start).
_OFFSET = _offset(
    os.environ.get("HEARTH_CLOCK_SHIFT_TO"), os.environ.get("HEARTH_CLOCK_SHIFT_FROM")
)


def now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC) + _OFFSET


def today() -> date:
    return now().date()
