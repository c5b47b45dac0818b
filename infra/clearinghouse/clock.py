"""The simulator's clock: the system's, or shifted by HEARTH_CLOCK_SHIFT_TO like Hearth's.

The simulator is the other party and shares no code with services/, so it reads the variable
itself: in a run shifted to another day, its 271 dates and its default "today" agree with ours.
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
