"""SQL for the stored ops digests (ops_digests)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from schemas.ops import StoredDigestOut, StoredDigestRow
from services.core.db import to_struct
from services.core.pagination import After, fetch_page


async def insert_digest(
    conn: asyncpg.Connection, day: date, body: dict[str, Any], at: datetime
) -> uuid.UUID | None:
    """The day's digest stored; None when one was stored before (the first is kept)."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO ops_digests (day, body, created_at) VALUES ($1, $2, $3)
        ON CONFLICT (day) DO NOTHING RETURNING id
        """,
        day,
        body,
        at,
    )
    return found


async def digest_exists(conn: asyncpg.Connection, day: date) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ops_digests WHERE day = $1)", day
    )
    return found


async def get_digest(conn: asyncpg.Connection, day: date) -> StoredDigestOut | None:
    row = await conn.fetchrow(
        "SELECT id, day, created_at, body AS digest FROM ops_digests WHERE day = $1", day
    )
    return to_struct(row, StoredDigestOut)


async def list_digests(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[StoredDigestRow]:
    return await fetch_page(
        conn, StoredDigestRow, "SELECT id, day, created_at FROM ops_digests WHERE true",
        after=after, limit=limit, newest_first=True,
    )  # fmt: skip
