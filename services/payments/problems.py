"""Payment problems put in front of ops by the jobs that meet them: a refund that did not
reach the client (failed_refunds) and a capture Hearth would not book (payment_exceptions).
Each lands once (a UNIQUE key); the ops side is queues.py."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg

from schemas.payments import ChargeRow, PaymentExceptionKind, RefundRow
from services.core import audit, clock
from services.core.auth import SYSTEM, Actor
from services.core.errors import Conflict
from services.core.pagination import After, K, Page, page_of
from services.payments.gateway import Captured, Intent
from services.payments.queries import disputes as dq

log = logging.getLogger(__name__)

FAILED_REFUND = "failed_refund"
EXCEPTION = "payment_exception"


async def queue_failed_refund(conn: asyncpg.Connection, refund: RefundRow, reason: str) -> None:
    """The refund in the ops queue, once: the client is owed its amount (a credit)."""
    queued = await dq.insert_failed_refund(
        conn, refund.id, refund.client_id, refund.amount_cents, reason[:100] or "failed",
        clock.now(),
    )  # fmt: skip
    if queued is not None:
        log.warning("refund failed", extra={"outcome": reason[:100]})
        await audit.record(conn, SYSTEM, "create", FAILED_REFUND, [queued])


async def queue_exception(
    conn: asyncpg.Connection, charge: ChargeRow, intent: Intent, captured: Captured,
    kind: PaymentExceptionKind,
) -> None:  # fmt: skip
    """A capture not booked (a second intent for the charge, or another amount), in the ops
    queue once per (charge, intent)."""
    queued = await dq.insert_exception(
        conn, (charge.id, charge.client_id, charge.amount_cents), kind,
        (intent.id, captured.charge_id),
        (intent.amount, captured.fee_cents, captured.net_cents), clock.now(),
    )  # fmt: skip
    if queued is not None:
        await audit.record(conn, SYSTEM, "create", EXCEPTION, [queued])


async def audited_page(
    conn: asyncpg.Connection, actor: Actor, entity: str,
    fetch: Callable[[After | None, int], Awaitable[list[K]]], cursor: str | None, limit: int,
) -> Page[K]:  # fmt: skip
    """A page of a queue, one audit row per record it shows (each names a client)."""
    page = await page_of(fetch, cursor, limit)
    await audit.record(conn, actor, "read", entity, [item.id for item in page.items])
    return page


def already_resolved(resolution: str | None, action: str) -> bool:
    """A repeat of the same resolution answers as the first; another one is refused (409)."""
    if resolution is None:
        return False
    if resolution == action:
        return True
    raise Conflict(f"it was resolved as {resolution}", field="action")
