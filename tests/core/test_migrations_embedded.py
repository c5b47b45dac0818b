"""Every migration applies to the embedded PostgreSQL (pgserver) that laptops without a server use.

This machine's server has extensions (btree_gist, pgcrypto, ...) that pgserver lacks; a migration
needing one would pass everywhere else and fail only on a newcomer's laptop.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pgserver

from services.core.migrations import discover, migrate


async def test_every_migration_applies_to_embedded_postgres() -> None:
    # pgserver logs from an exit thread, after pytest has closed the captured stream.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # Not pytest's tmp_path: under xdist, as root, it is made 0700 and the `pgserver` system
    # user that pgserver runs postgres as could not enter it.
    data = Path(tempfile.mkdtemp(prefix="hearth-pgserver-"))
    server = pgserver.get_server(data / "pg", cleanup_mode="stop")
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
        shutil.rmtree(data, ignore_errors=True)
