"""X12 control numbers (ISA13, GS06) drawn from the database, for every file Hearth sends.

The sequences `x12_interchange_control` and `x12_group_control` (migration 0006) are shared by
every X12 file we send, 270s today and 837s tomorrow: a payer or clearinghouse that sees two
interchanges with one ISA13 from the same sender may drop the second as a duplicate.
"""

from __future__ import annotations

import asyncpg


async def next_control_numbers(conn: asyncpg.Connection) -> tuple[int, int]:
    """Fresh ISA13 and GS06, unique and increasing across every file Hearth writes."""
    row = await conn.fetchrow(
        "SELECT nextval('x12_interchange_control') AS isa, nextval('x12_group_control') AS gs"
    )
    assert row is not None
    return int(row["isa"]), int(row["gs"])
