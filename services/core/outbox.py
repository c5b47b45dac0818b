"""The transactional outbox: jobs written with the rows they follow from, relayed to arq.

A row is handed to arq with the job id `{namespace}:outbox-{id}-{attempt}`: arq refuses a job
id whose key or kept result still exists (after a SIGKILL, too), so every hand-out needs a
fresh id, and the row's attempt count gives it one. A row handed out but not completed within
`visibility_s` is handed out again: jobs must be idempotent, and each completes its row in the
transaction that does its work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

import asyncpg
import msgspec

from services.core import clock
from services.core.db import transaction

log = logging.getLogger(__name__)

# Jobs handed to arq at once within a batch (each is a few Redis round trips).
ENQUEUE_CONCURRENCY = 16
# How long the relay cron's tick keeps handing out full batches: below the cron's 30 s timeout
# (the last batch starts before it ends) and, halved if need be, the visibility timeout.
TICK_BUDGET_S = 20.0


class Enqueuer(Protocol):
    async def enqueue_job(self, function: str, *args: Any, _job_id: str | None = None) -> Any: ...


class Payload(Protocol):
    """A job's payload: a msgspec Struct (schemas/) naming its job, the arq function it runs."""

    job: ClassVar[str]


P = TypeVar("P", bound=Payload)


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    job: str
    attempts: int


async def add(
    conn: asyncpg.Connection,
    payload: Payload,
    *,
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
) -> int | None:
    """Queue `payload.job(outbox_id)` once this transaction commits; None if already queued."""
    # Stamped from the clock, not the database's now(): the relay compares them with it.
    now = clock.now()
    outbox_id: int | None = await conn.fetchval(
        """
        INSERT INTO outbox (job, payload, dedupe_key, created_at, available_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND completed_at IS NULL
        DO NOTHING
        RETURNING id
        """,
        payload.job,
        msgspec.to_builtins(payload),
        dedupe_key,
        now,
        available_at or now,
    )
    return outbox_id


async def add_many(conn: asyncpg.Connection, items: list[tuple[Payload, str | None]]) -> None:
    """`add` of many (payload, dedupe key) pairs in one statement."""
    if not items:
        return
    await conn.execute(
        """
        INSERT INTO outbox (job, payload, dedupe_key, created_at, available_at)
        SELECT w.job, w.payload::jsonb, w.dedupe_key, $4, $4
        FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
            AS w (job, payload, dedupe_key, n)
        ORDER BY w.n
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND completed_at IS NULL
        DO NOTHING
        """,
        [payload.job for payload, _ in items],
        [msgspec.json.encode(payload).decode() for payload, _ in items],
        [key for _, key in items],
        clock.now(),
    )


async def add_earliest(
    conn: asyncpg.Connection, payload: Payload, *, dedupe_key: str, available_at: datetime
) -> int | None:
    """Like `add`, but an open row under the key that waits for a later time is brought
    forward to `available_at`: the earliest availability wins. A row already handed out,
    or waiting out a failure's retry delay, is left as it is. None: nothing changed."""
    outbox_id: int | None = await conn.fetchval(
        """
        INSERT INTO outbox (job, payload, dedupe_key, created_at, available_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND completed_at IS NULL
        DO UPDATE SET available_at = EXCLUDED.available_at
            WHERE outbox.available_at > EXCLUDED.available_at
              AND outbox.enqueued_at IS NULL AND outbox.last_error IS NULL
        RETURNING id
        """,
        payload.job,
        msgspec.to_builtins(payload),
        dedupe_key,
        clock.now(),
        available_at,
    )
    return outbox_id


async def lock_due(
    conn: asyncpg.Connection, now: datetime, visibility_s: int, limit: int
) -> list[OutboxRow]:
    """Rows never handed out, or handed out longer ago than `visibility_s` and not done."""
    rows = await conn.fetch(
        """
        SELECT id, job, attempts FROM outbox
        WHERE completed_at IS NULL AND available_at <= $1
          AND (enqueued_at IS NULL OR enqueued_at < $1 - make_interval(secs => $2))
        ORDER BY available_at, id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
        """,
        now,
        visibility_s,
        limit,
    )
    return [msgspec.convert(dict(r), OutboxRow) for r in rows]


async def mark_enqueued(conn: asyncpg.Connection, outbox_ids: list[int], now: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET enqueued_at = $2, attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
        outbox_ids,
        now,
    )


async def lock(conn: asyncpg.Connection, outbox_id: int, payload: type[P]) -> P | None:
    """The row's payload, the row locked, if its work is still to do (a job's first step).

    A payload that does not decode as `payload` can never run: the row is marked failed with
    the reason (committed with this transaction) and None returned, as for a row already done,
    so the job ends instead of failing again every visibility timeout.
    """
    row = await conn.fetchrow(
        "SELECT payload FROM outbox WHERE id = $1 AND completed_at IS NULL FOR UPDATE", outbox_id
    )
    if row is None:
        return None
    try:
        return msgspec.convert(row["payload"], payload)
    except msgspec.ValidationError as exc:
        # msgspec names the field (and at most an enum's value): payloads carry ids, no PHI.
        reason = f"malformed {payload.job} payload: {exc}"
        log.error(
            "outbox payload malformed",
            extra={"job": payload.job, "count": outbox_id, "error_message": str(exc)},
        )
        await fail(conn, outbox_id, reason)
        return None


async def hold(conn: asyncpg.Connection, outbox_id: int) -> None:
    """Lock the row, done or not. A job's later transaction takes it before its own rows, in
    the order its first step (`lock`) did: two runs of one row then queue on the outbox row
    instead of each holding the lock the other waits for (a deadlock)."""
    await conn.execute("SELECT 1 FROM outbox WHERE id = $1 FOR UPDATE", outbox_id)


async def complete(conn: asyncpg.Connection, outbox_id: int) -> None:
    await conn.execute(
        "UPDATE outbox SET completed_at = $2 WHERE id = $1 AND completed_at IS NULL",
        outbox_id,
        clock.now(),
    )


async def fail(conn: asyncpg.Connection, outbox_id: int, reason: str) -> None:
    """A failure no retry can mend: the row is finished, failed, with the reason."""
    await conn.execute(
        """
        UPDATE outbox SET completed_at = $2, failed_at = $2, last_error = $3
        WHERE id = $1 AND completed_at IS NULL
        """,
        outbox_id,
        clock.now(),
        reason[:500],
    )


async def record_failure(
    conn: asyncpg.Connection, outbox_id: int, error: str, retry_in: timedelta
) -> None:
    """A transient failure: hand the row out again after `retry_in`."""
    await conn.execute(
        """
        UPDATE outbox SET last_error = $2, enqueued_at = NULL, available_at = $3
        WHERE id = $1 AND completed_at IS NULL
        """,
        outbox_id,
        error[:500],
        clock.now() + retry_in,
    )


def job_id(namespace: str, outbox_id: int, attempt: int) -> str:
    # arq's job keys are not per queue: the namespace keeps deployments sharing a Redis apart.
    return f"{namespace}:outbox-{outbox_id}-{attempt}"


async def _relay_batch(
    pool: asyncpg.Pool, queue: Enqueuer, now: datetime, namespace: str, visibility_s: int,
    limit: int,
) -> int:  # fmt: skip
    """One transaction: up to `limit` due rows locked, handed to arq, marked handed out."""
    async with transaction(pool) as conn:
        rows = await lock_due(conn, now, visibility_s, limit)
        # Enqueued while the rows are locked: if this transaction then fails, the jobs run,
        # find their rows still marked not handed out, and do their work anyway (idempotent);
        # the rows are handed out again and those jobs find them completed.
        gate = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

        async def hand_out(row: OutboxRow) -> None:
            async with gate:
                job = await queue.enqueue_job(
                    row.job, row.id, _job_id=job_id(namespace, row.id, row.attempts + 1)
                )
            if job is None:
                # That id's job is still queued or its result is kept: the row comes back
                # after the visibility timeout under the next attempt's id.
                log.warning("outbox job id taken", extra={"job": row.job, "count": row.id})

        # A failed enqueue cancels the others and rolls the batch back (see above).
        try:
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    group.create_task(hand_out(row))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        if rows:
            await mark_enqueued(conn, [row.id for row in rows], now)
    return len(rows)


async def relay(
    pool: asyncpg.Pool,
    queue: Enqueuer,
    now: datetime,
    *,
    namespace: str,
    visibility_s: int,
    limit: int = 200,
    budget_s: float = 0.0,
) -> int:
    """Hand due rows to arq; returns how many. Safe to run concurrently with itself.

    Batches of `limit` rows, each its own transaction, while they come back full and
    `budget_s` has not passed since the call began (0: one batch). Each batch is stamped with
    `now` plus the time spent, so a row handed out late in the call keeps its whole
    visibility timeout; the budget must stay below `visibility_s` (else a later batch could
    take a row an earlier one handed out) and below the caller's own timeout.
    """
    if budget_s >= visibility_s:
        raise ValueError("the relay's budget must be shorter than the visibility timeout")
    started = time.monotonic()
    handed = 0
    while True:
        elapsed = time.monotonic() - started
        batch = await _relay_batch(
            pool, queue, now + timedelta(seconds=elapsed), namespace, visibility_s, limit
        )
        handed += batch
        if batch < limit or time.monotonic() - started >= budget_s:
            break
    if handed:
        log.info("outbox relayed", extra={"count": handed})
    return handed
