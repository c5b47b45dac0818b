"""SQL of the clearinghouse 835 polling: the fetch cursor and the files refused on the way."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def get_cursor(conn: asyncpg.Connection, clearinghouse: str) -> str | None:
    """The ISA13 of the last 835 received from the clearinghouse (None: none yet)."""
    found: str | None = await conn.fetchval(
        "SELECT last_isa13 FROM remittance_fetch_cursors WHERE clearinghouse = $1", clearinghouse
    )
    return found


async def lock_cursor(conn: asyncpg.Connection, clearinghouse: str, now: datetime) -> str | None:
    """The cursor, its row created if missing and locked until the transaction ends."""
    await conn.execute(
        """
        INSERT INTO remittance_fetch_cursors (clearinghouse, updated_at) VALUES ($1, $2)
        ON CONFLICT (clearinghouse) DO NOTHING
        """,
        clearinghouse,
        now,
    )
    found: str | None = await conn.fetchval(
        "SELECT last_isa13 FROM remittance_fetch_cursors WHERE clearinghouse = $1 FOR UPDATE",
        clearinghouse,
    )
    return found


async def advance_cursor(
    conn: asyncpg.Connection, clearinghouse: str, isa13: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE remittance_fetch_cursors
        SET last_isa13 = $2, files_received = files_received + 1, updated_at = $3
        WHERE clearinghouse = $1
        """,
        clearinghouse,
        isa13,
        now,
    )


async def insert_refusal(
    conn: asyncpg.Connection,
    clearinghouse: str,
    isa13: str | None,
    sha256: str,
    raw: bytes,
    error: str,
    now: datetime,
    where: tuple[str | None, int] | None = None,
) -> None:
    """Keep a refused file for ops; `where` is the segment id and position it broke at."""
    segment, position = where or (None, None)
    await conn.execute(
        """
        INSERT INTO remittance_fetch_refusals
            (clearinghouse, isa13, sha256, raw, error, received_at, segment, position)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (clearinghouse, sha256) DO NOTHING
        """,
        clearinghouse,
        isa13,
        sha256,
        raw,
        error[:500],
        now,
        segment,
        position,
    )
