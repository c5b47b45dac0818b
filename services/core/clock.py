"""The one clock: every service, job and test reads the time here.

Production reads the system clock. `HEARTH_CLOCK_SHIFT_TO` (an ISO 8601 instant, outside
production) moves the whole process to that instant at start-up and lets it tick on from there,
so CI can run the suite as if it were another day; tests freeze it with `freeze()`.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta


class Clock:
    """A clock that is the system's, shifted by a fixed offset, or frozen at one instant."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.fromtimestamp(time.time(), UTC) + self._offset  # clock

    def today(self) -> date:
        return self.now().date()

    def shift_to(self, instant: datetime) -> None:
        """Tick on from `instant` (aware), as if the process had started then."""
        self._offset = _aware(instant) - datetime.fromtimestamp(time.time(), UTC)  # clock
        self._frozen = None

    def freeze(self, instant: datetime) -> None:
        self._frozen = _aware(instant)

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen = None


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("the clock takes timezone-aware instants only")
    return instant.astimezone(UTC)


CLOCK = Clock()


def start(shift_to: datetime | None) -> None:
    """Process start-up: move the clock to `shift_to` (HEARTH_CLOCK_SHIFT_TO) when it is set."""
    if shift_to is not None:
        CLOCK.shift_to(shift_to)


def now() -> datetime:
    return CLOCK.now()


def today() -> date:
    return CLOCK.today()
