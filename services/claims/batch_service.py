"""Ops' view of claim submission: batches, their files, and "submit now" (issue 15 item 9).

A batch's files carry every claim's PHI (names, member ids, diagnoses): reading one writes an
audit row for the batch and one per claim in it. The list and a batch's metadata name no
person, yet they are audited as reads of the batches, as every ops read of billing data is.
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.claim_batches import (
    BatchListStatus,
    ClaimBatchDetailOut,
    ClaimBatchOut,
    SubmissionsQueuedOut,
)
from services.claims.errors import ClaimBatchNotFound
from services.claims.queries import batch_reads
from services.claims.submission import queue_submissions
from services.core import audit
from services.core.auth import Actor
from services.core.pagination import Page, page_of
from services.core.settings import Settings

ENTITY = "claim_batch"


async def list_batches(
    conn: asyncpg.Connection,
    actor: Actor,
    payer_id: uuid.UUID | None,
    status: BatchListStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[ClaimBatchOut]:
    """Batches, newest first, by payer and status."""
    page = await page_of(
        lambda after, n: batch_reads.list_batches(conn, payer_id, status, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [b.id for b in page.items])
    return page


async def get_batch(
    conn: asyncpg.Connection, actor: Actor, batch_id: uuid.UUID
) -> ClaimBatchDetailOut:
    """One batch with its claims and its files' metadata (no bodies)."""
    batch = await batch_reads.get_batch(conn, batch_id)
    if batch is None:
        raise ClaimBatchNotFound("claim batch not found")
    await audit.record(conn, actor, "read", ENTITY, [batch_id])
    return ClaimBatchDetailOut(
        batch=batch,
        claim_ids=await batch_reads.list_batch_claim_ids(conn, batch_id),
        files=await batch_reads.list_batch_files(conn, batch_id),
    )


async def get_batch_file(
    conn: asyncpg.Connection, actor: Actor, batch_id: uuid.UUID, file_id: int
) -> str:
    """A file's body as sent or received; a file of another batch is not found."""
    body = await batch_reads.get_batch_file_body(conn, batch_id, file_id)
    if body is None:
        raise ClaimBatchNotFound("no such file in this claim batch")
    await audit.record(conn, actor, "read_x12", ENTITY, [batch_id])
    claims = await batch_reads.list_batch_claim_ids(conn, batch_id)
    await audit.record(conn, actor, "read_x12", "claim", claims)
    return body


async def submit_now(conn: asyncpg.Connection, settings: Settings) -> SubmissionsQueuedOut:
    """The cron's work on demand: one submission per payer with ready claims past the hold.

    A payer whose submission is already queued and not done is not queued twice (the outbox's
    dedupe key), so pressing the button again is harmless.
    """
    return SubmissionsQueuedOut(payers_queued=await queue_submissions(conn, settings))
