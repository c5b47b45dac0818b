"""The one clock: every service, job and test reads the time here.

Production reads the system clock. `HEARTH_CLOCK_SHIFT_TO` (an ISO 8601 instant, outside
production) moves the whole process to that instant and lets it tick on, so CI can run the suite
as if it were another day; tests freeze it with `freeze()`. The shifted clock reads SHIFT_TO at
the real instant `HEARTH_CLOCK_SHIFT_FROM` when that is set (CI sets it once for the run, so the
API, the worker, the simulators and the tests agree to the millisecond), else at each process's
own start.
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

    def shift_to(self, instant: datetime, since: datetime | None = None) -> None:
        """Read `instant` (aware) at the real instant `since` (default: now) and tick on."""
        real = datetime.fromtimestamp(time.time(), UTC) if since is None else _aware(since)  # clock
        self._offset = _aware(instant) - real
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


def start(shift_to: datetime | None, shift_from: datetime | None = None) -> None:
    """Process start-up: HEARTH_CLOCK_SHIFT_TO, read at HEARTH_CLOCK_SHIFT_FROM (else now)."""
    if shift_to is not None:
        CLOCK.shift_to(shift_to, shift_from)


def now() -> datetime:
    return CLOCK.now()


def today() -> date:
    return CLOCK.today()
