"""SQL for ops' reads of claim batches: the list, one batch's claims and files, a file's body.

Reads only the claims domain's own tables (claim_batches, claim_batch_files, claim_submissions).
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.claim_batches import ClaimBatchFileOut, ClaimBatchOut
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page

_BATCH = """
    SELECT b.id, b.payer_id, b.status, b.payload_id, b.interchange_control, b.group_control,
           b.transaction_control, b.claim_count, b.created_at, b.sent_at, b.ack_applied_at,
           b.results_applied_at, b.last_error
    FROM claim_batches b
"""


async def list_batches(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID | None,
    status: str | None,
    after: After | None,
    limit: int,
) -> list[ClaimBatchOut]:
    """Batches newest first (a log ops read from its latest end), optionally filtered."""
    query = (
        _BATCH
        + """
    WHERE ($1::uuid IS NULL OR b.payer_id = $1) AND ($2::text IS NULL OR b.status = $2)"""
    )
    return await fetch_page(
        conn, ClaimBatchOut, query, payer_id, status, after=after, limit=limit, alias="b",
        newest_first=True,
    )  # fmt: skip


async def get_batch(conn: asyncpg.Connection, batch_id: uuid.UUID) -> ClaimBatchOut | None:
    return to_struct(await conn.fetchrow(_BATCH + " WHERE b.id = $1", batch_id), ClaimBatchOut)


async def list_batch_claim_ids(conn: asyncpg.Connection, batch_id: uuid.UUID) -> list[uuid.UUID]:
    """The claims whose versions went in the batch."""
    rows = await conn.fetch(
        "SELECT DISTINCT claim_id FROM claim_submissions WHERE batch_id = $1 ORDER BY claim_id",
        batch_id,
    )
    return [row["claim_id"] for row in rows]


async def list_batch_files(
    conn: asyncpg.Connection, batch_id: uuid.UUID
) -> list[ClaimBatchFileOut]:
    """The batch's files and envelopes, oldest first, without their bodies."""
    rows = await conn.fetch(
        """
        SELECT id, direction, payload_type, payload_id, error_code, error_message,
               octet_length(body) AS size_bytes, at
        FROM claim_batch_files WHERE batch_id = $1 ORDER BY id
        """,
        batch_id,
    )
    return to_structs(rows, ClaimBatchFileOut)


async def get_batch_file_body(
    conn: asyncpg.Connection, batch_id: uuid.UUID, file_id: int
) -> str | None:
    """A file's body as it was sent or received; None unless the file is the batch's."""
    body: str | None = await conn.fetchval(
        "SELECT body FROM claim_batch_files WHERE id = $1 AND batch_id = $2", file_id, batch_id
    )
    return body
