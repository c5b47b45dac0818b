"""Webhook deliveries as Stripe makes them: signed at send time, retried, repeated, reordered.

Every event (localstripe's and ours) is delivered to each endpoint whose `events` list names its
type (none: every type) and whose kind matches it, as Stripe does: an event of a connected
account (`account` set, e.g. its account.updated) goes only to Connect endpoints (made with
connect=true), every other event only to account endpoints; each endpoint signs with its own
secret. Each attempt is signed when it is sent: `Stripe-Signature:
t=<now>,v1=<HMAC-SHA256(secret, "<t>.<body>")>` with infra's clock (shifted like the stack's,
not advanced by `/_admin/clock`, so the receiver's 300 s tolerance holds). A non-2xx answer or
a connection error is retried after `retry_base_s`, doubling up to `retry_cap_s`, at most
`max_attempts` times. Switches: `duplicates` (the fraction of events delivered twice), `jitter_s`
(each first attempt waits up to that long at random, so events overtake each other), `hold`
(events wait until `/_admin/webhooks/release` sends them in the order asked: fifo, reverse or
shuffle).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from localstripe.resources import Event

from infra import shifted_clock
from infra.stripe.state import Config

ORDERS = ("fifo", "reverse", "shuffle")
LOG_LIMIT = 10_000


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    events: list[str] | None = None
    from_startup: bool = False
    connect: bool = False  # a Connect endpoint: the events of connected accounts only

    def wants(self, event: Event) -> bool:
        if self.connect != (getattr(event, "account", None) is not None):
            return False
        return self.events is None or event.type in self.events or "*" in self.events


@dataclass
class Switches:
    duplicates: float = 0.0
    jitter_s: float = 0.0
    hold: bool = False


@dataclass
class Attempt:
    event: str
    type: str
    endpoint: str
    attempt: int
    status: int | None
    error: str | None = None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Webhooks:
    config: Config
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    switches: Switches = field(default_factory=Switches)
    held: list[Event] = field(default_factory=list)
    log: list[Attempt] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)
    session: aiohttp.ClientSession | None = None

    def register(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.id] = endpoint

    def reset(self) -> None:
        """Forget endpoints registered at run time, held events, the log; cancel deliveries."""
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        self.endpoints = {k: e for k, e in self.endpoints.items() if e.from_startup}
        self.switches = Switches()
        self.held.clear()
        self.log.clear()

    def publish(self, event: Event) -> None:
        """localstripe's `schedule_webhook`, replaced: called as each event is made."""
        if self.switches.hold:
            self.held.append(event)
            return
        self._send(event, self.rng.uniform(0, self.switches.jitter_s))

    def release(self, order: str) -> int:
        events, self.held = self.held, []
        if order == "reverse":
            events.reverse()
        elif order == "shuffle":
            self.rng.shuffle(events)
        for position, event in enumerate(events):
            # Staggered so each is sent in the order chosen.
            self._send(event, position * 0.05)
        return len(events)

    def _send(self, event: Event, delay_s: float) -> None:
        copies = 2 if self.rng.random() < self.switches.duplicates else 1
        body = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        for endpoint in list(self.endpoints.values()):
            if endpoint.wants(event):
                for copy in range(copies):
                    self._spawn(self._deliver(endpoint, event, body, delay_s + copy * 0.05))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, endpoint: Endpoint, event: Event, body: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        wait = self.config.webhook_retry_base_s
        for attempt in range(1, self.config.webhook_max_attempts + 1):
            if await self._attempt(endpoint, event, body, attempt):
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, self.config.webhook_retry_cap_s)

    async def _attempt(self, endpoint: Endpoint, event: Event, body: bytes, attempt: int) -> bool:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession()
        timestamp = int(shifted_clock.now().timestamp())
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Stripe-Signature": sign(endpoint.secret, body, timestamp),
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}  # fmt: skip
        record = Attempt(event.id, event.type, endpoint.id, attempt, None)
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.webhook_timeout_s)
            async with self.session.post(endpoint.url, data=body, headers=headers,
                                         timeout=timeout) as answer:  # fmt: skip
                record.status = answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            record.error = type(error).__name__
        self.log.append(record)
        del self.log[:-LOG_LIMIT]
        return record.status is not None and 200 <= record.status < 300

    def deliveries(self) -> list[dict[str, Any]]:
        return [asdict(attempt) for attempt in self.log]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.session is not None:
            await self.session.close()
