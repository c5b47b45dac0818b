"""infra's clock: the system's, or shifted by HEARTH_CLOCK_SHIFT_TO like Hearth's.

The simulators are the other party and the demo drives the API over HTTP only: neither shares
code with services/, so they read the variable here: in a run shifted to another day, the 271's
dates, the simulator's default "today" and the demo's bookings agree with the stack's.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta


def _offset(shift_to: str | None) -> timedelta:
    if not shift_to:
        return timedelta(0)
    instant = datetime.fromisoformat(shift_to)
    if instant.tzinfo is None:
        raise ValueError("HEARTH_CLOCK_SHIFT_TO: an instant with its offset, e.g. ...T15:00:00Z")
    return instant - datetime.fromtimestamp(time.time(), UTC)


# Taken once, at start-up: the process ticks on from the shifted instant.
_OFFSET = _offset(os.environ.get("HEARTH_CLOCK_SHIFT_TO"))


def now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC) + _OFFSET


def today() -> date:
    return now().date()
