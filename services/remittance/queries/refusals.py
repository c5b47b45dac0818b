"""SQL of the refused 835 files ops settle (remittance_fetch_refusals, written by fetch.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.remittance_ops import RefusalFilter, RefusalOut
from services.core.db import to_struct
from services.core.pagination import After, fetch_page

# The file itself (raw) stays in the table: it may carry PHI and is no list's business.
_REFUSAL = """
    SELECT * FROM (
        SELECT id, received_at AS created_at, clearinghouse, isa13, sha256,
               octet_length(raw) AS byte_size, error, segment, position,
               CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END AS status,
               resolved_at, resolved_by, resolution_note
        FROM remittance_fetch_refusals) r
"""


async def list_refusals(
    conn: asyncpg.Connection, status: RefusalFilter, after: After | None, limit: int
) -> list[RefusalOut]:
    """Refusals in `status` ("all": both), oldest first."""
    return await fetch_page(
        conn, RefusalOut, _REFUSAL + " WHERE ($1::text = 'all' OR status = $1)", status,
        after=after, limit=limit,
    )  # fmt: skip


async def get_refusal(conn: asyncpg.Connection, refusal_id: uuid.UUID) -> RefusalOut | None:
    return to_struct(await conn.fetchrow(_REFUSAL + " WHERE id = $1", refusal_id), RefusalOut)


async def update_refusal_resolved(
    conn: asyncpg.Connection, refusal_id: uuid.UUID, at: datetime, by: uuid.UUID, note: str
) -> bool:
    """Resolve an open refusal; False when it is resolved already (or is no refusal).

    Two resolutions at once: the second waits on the first's row lock, then finds it
    resolved, so a refusal is dismissed once, by one person.
    """
    found: uuid.UUID | None = await conn.fetchval(
        """
        UPDATE remittance_fetch_refusals
        SET resolved_at = $2, resolved_by = $3, resolution_note = $4
        WHERE id = $1 AND resolved_at IS NULL
        RETURNING id
        """,
        refusal_id,
        at,
        by,
        note,
    )
    return found is not None
