"""What every part of the demo shares: the HTTP caller, its counts and the printed lines."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from infra import shifted_clock as clock

REPO = Path(__file__).resolve().parents[2]
OPS_EMAIL = os.environ.get("HEARTH_DEMO_OPS_EMAIL", "ops@hearth.test")
OPS_PASSWORD = os.environ.get("HEARTH_DEMO_OPS_PASSWORD", "hearth-demo-password")
PASSWORD = "demo-run-passphrase"  # for the users this run creates


class DemoFailed(Exception):
    """The API answered something the demo did not expect."""


@dataclass
class Demo:
    http: httpx.Client
    run: str
    mail_url: str = "http://127.0.0.1:8025"
    stripe_url: str = "http://127.0.0.1:8420"  # the Stripe simulator, as Stripe.js reaches it
    counts: dict[str, int] = field(default_factory=dict)
    shown: dict[str, str | None] = field(default_factory=dict)  # what the benefit check said
    completed: list[str] = field(default_factory=list)  # ids of the sessions completed
    service_day: datetime | None = None  # when the run's first session started (sessions.py)
    claims: dict[str, str] = field(default_factory=dict)  # their claims' ids -> the client
    visits: dict[str, str] = field(default_factory=dict)  # claim id -> its visit's key
    sessions: dict[str, str] = field(default_factory=dict)  # claim id -> its session's id
    # The sessions priced from a benefit check (the estimate charged at completion) -> client.
    priced: dict[str, str] = field(default_factory=dict)
    # What became of those claims once submitted: ids per outcome, in completion order.
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    # Their 835s: each claim's outcome as printed, and the 835 files that carried them.
    remittances: list[dict[str, Any]] = field(default_factory=list)
    eras: list[dict[str, Any]] = field(default_factory=list)
    # What ops reviewed after the 835s (the estimate accuracy, the denial resolved).
    review: dict[str, Any] = field(default_factory=dict)
    # The clients' cards (payments.py): name -> client id, token, Stripe customer, card.
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The money that moved: completion charges, balances due, true-up charges, refunds.
    payments: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, token: str | None, expect: int, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(method, path, headers=headers, **kw)
        if response.status_code != expect:
            raise DemoFailed(
                f"{method} {path}: expected {expect}, got {response.status_code}: "
                f"{response.text[:500]}"
            )
        return response.json() if response.content else None

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def verification_code(self, to: str, timeout: float = 60) -> str:
        """The code in the verification email the worker sent to `to`, read from the sink."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.http.get(f"{self.mail_url}/messages", params={"to": to})
            response.raise_for_status()
            for message in response.json():
                if match := re.search(r"Verification code: (\S+)", message["body"]):
                    return match.group(1)
            time.sleep(0.5)
        raise DemoFailed(f"no verification email to {to} at {self.mail_url} after {timeout} s")


def today() -> date:
    return clock.today()


def section(title: str) -> None:
    """A heading over the steps that follow."""
    print(f"\n== {title}", flush=True)


def say(step: str, detail: str = "") -> None:
    print(f"  {step:<34} {detail}", flush=True)


def npi_with_check_digit(first_nine: str) -> str:
    """A valid NPI: Luhn over the prefix 80840 and the nine digits."""
    total = 0
    for i, ch in enumerate(reversed("80840" + first_nine)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return first_nine + str((10 - total % 10) % 10)


def pages(demo: Demo, path: str, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list route, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": 200, **params, **({"cursor": cursor} if cursor else {})}
        page = demo.call("GET", path, token, 200, params=query)
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items
