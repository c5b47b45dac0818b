"""Every migration applies to the embedded PostgreSQL (pgserver) that laptops without a server use.

This machine's server has extensions (btree_gist, pgcrypto, ...) that pgserver lacks; a migration
needing one would pass everywhere else and fail only on a newcomer's laptop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import pgserver

from services.core.migrations import discover, migrate


async def test_every_migration_applies_to_embedded_postgres(tmp_path: Path) -> None:
    # pgserver logs from an exit thread, after pytest has closed the captured stream.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        url = server.get_uri()
        applied = await migrate(url)
        assert applied == [name for _, name, _, _ in discover()]
        conn = await asyncpg.connect(url)
        try:
            extensions = {
                r["extname"] for r in await conn.fetch("SELECT extname FROM pg_extension")
            }
        finally:
            await conn.close()
        assert extensions <= {"plpgsql"}
    finally:
        server.cleanup()
