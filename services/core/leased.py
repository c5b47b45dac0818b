"""A Stripe job's shape (DESIGN.md "Stripe calls, exactly once"): claim the row in one short
transaction, call Stripe with nothing held, record in a second transaction.

The record transaction takes the job's outbox row before the job's own row, the order the
claim took them in: two runs of one job taking them in opposite orders deadlocked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from services.core import outbox
from services.core.transactions import Transactions

J = TypeVar("J", bound=outbox.Payload)
P = TypeVar("P")
R = TypeVar("R")


async def run_leased(
    tx: Transactions,
    outbox_id: int,
    payload: type[J],
    claim: Callable[[asyncpg.Connection, J], Awaitable[P | str]],
    call: Callable[[P], Awaitable[R]],
    record: Callable[[asyncpg.Connection, P, R], Awaitable[str]],
) -> str:
    """Claim (or say why there is nothing to call: a str), call with nothing held, record
    under the row's lock; the outcome."""
    async with tx() as conn:
        job = await outbox.lock(conn, outbox_id, payload)
        if job is None:
            return "done before"
        plan = await claim(conn, job)
    if isinstance(plan, str):
        return plan
    outcome = await call(plan)
    async with tx() as conn:
        await outbox.hold(conn, outbox_id)  # the claim's lock order: outbox row, then ours
        return await record(conn, plan, outcome)
