"""The simulator's own state beside localstripe's store: its clock and its settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from infra import shifted_clock

# Stripe's US standard: a card payment's funds become available two days after the charge.
DEFAULT_AVAILABLE_DELAY_S = 2 * 86_400
# Stripe keeps an idempotency key's first answer this long.
IDEMPOTENCY_TTL_S = 24 * 3_600


@dataclass
class SimClock:
    """infra's clock (shifted like the stack's) plus what `/_admin/clock` advanced it by."""

    advanced_s: float = 0.0

    def now(self) -> datetime:
        return shifted_clock.now() + timedelta(seconds=self.advanced_s)

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.advanced_s += seconds


@dataclass
class Config:
    """What `/_admin/config` changes; `reset` puts back the start-up values."""

    available_delay_s: int = DEFAULT_AVAILABLE_DELAY_S
    topup_delay_s: int = 0
    webhook_retry_base_s: float = 1.0
    webhook_retry_cap_s: float = 3_600.0
    webhook_max_attempts: int = 10
    webhook_timeout_s: float = 10.0


@dataclass
class Sim:
    clock: SimClock = field(default_factory=SimClock)
    config: Config = field(default_factory=Config)
    startup: Config = field(default_factory=Config)
    started: float = field(default_factory=time.monotonic)
