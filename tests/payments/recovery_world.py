"""Helpers of the recovery tests: a declined charge, and recovery's jobs run by hand when due
by the test's clock."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from services.core import clock
from services.payments import recovery
from services.payments.notices import send_charge_notice
from tests.payments import world as w

DECLINE = "/v1/payment_intents"


def decline(code: str, count: int = 1) -> dict[str, Any]:
    """A simulator fault: the next `count` confirmations declined with `code`."""
    return {"kind": "decline", "path_prefix": DECLINE, "method": "POST", "count": count,
            "decline_code": code}  # fmt: skip


async def due(db: asyncpg.Connection, job: str) -> list[int]:
    """The job's open outbox rows the relay would hand out now (available by the clock)."""
    rows = await db.fetch(
        "SELECT id FROM outbox WHERE job = $1 AND completed_at IS NULL AND available_at <= $2"
        " ORDER BY id",
        job,
        clock.now(),
    )
    return [r["id"] for r in rows]


async def follow_ups(c: w.Charging) -> list[str]:
    return [await recovery.follow_up_charge(c.db, c.settings, n)
            for n in await due(c.db, "follow_up_charge")]  # fmt: skip


async def retries(c: w.Charging) -> list[str]:
    return [await recovery.retry_charge(c.tx, c.gateway, c.settings, n)
            for n in await due(c.db, "retry_charge")]  # fmt: skip


async def write_offs(c: w.Charging) -> list[str]:
    return [await recovery.write_off_charge(c.db, n) for n in await due(c.db, "write_off_charge")]


async def notices(c: w.Charging, settings: Any) -> list[str]:
    return [await send_charge_notice(c.tx, settings, n)
            for n in await due(c.db, "send_charge_notice")]  # fmt: skip


async def declined(c: w.Charging, code: str, number: str = w.VISA) -> dict[str, Any]:
    """A completed session whose charge Stripe declined with `code`, followed up; the charge."""
    visit = await c.completed(number)
    await c.fault(decline(code))
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["failed"]
    (charge,) = await w.charges_of(c.db, visit.session.id)
    charge["client_id"] = visit.client.client_id
    charge["visit"] = visit
    return charge


async def attempts(db: asyncpg.Connection, charge_id: uuid.UUID) -> list[tuple[int, str]]:
    rows = await db.fetch(
        "SELECT retry, status FROM charge_attempts WHERE charge_id = $1 ORDER BY retry", charge_id
    )
    return [(r["retry"], r["status"]) for r in rows]


async def entries(db: asyncpg.Connection, charge_id: uuid.UUID) -> list[tuple[str, str]]:
    """(kind, idempotency key prefix) of every entry the charge made, in order."""
    rows = await db.fetch(
        "SELECT kind, idempotency_key FROM journal_entries WHERE source_id = $1 ORDER BY id",
        charge_id,
    )
    return [(r["kind"], r["idempotency_key"].rsplit("-", 5)[0]) for r in rows]


async def open_jobs(db: asyncpg.Connection, job: str) -> int:
    """How many rows of the job are open, due or not."""
    return len(await w.open_outbox(db, job))


DAY = timedelta(days=1)
