"""Every migration applies to the embedded PostgreSQL (pgserver) that laptops without a server use.

This machine's server has extensions (btree_gist, pgcrypto, ...) that pgserver lacks; a migration
needing one would pass everywhere else and fail only on a newcomer's laptop.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pgserver
import pytest

from services.core import audit
from services.core.auth import SYSTEM
from services.core.dbroles import grant_app_role
from services.core.migrations import discover, migrate
from tests.core.test_dbroles import url_as


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


def _require_password(hba: Path, role: str) -> None:
    hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())


async def test_the_least_privilege_role_works_on_embedded_postgres() -> None:
    """grant-app-role on pgserver: its SCRAM password works and audit rows stay."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data = Path(tempfile.mkdtemp(prefix="hearth-pgserver-"))
    server = pgserver.get_server(data / "pg", cleanup_mode="stop")
    role, password = f"hearth_app_t{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    try:
        url = server.get_uri()
        await migrate(url)
        owner = await asyncpg.connect(url)
        try:
            await grant_app_role(owner, role, password)
            # pgserver trusts every local connection: make this role prove its password.
            _require_password(Path(await owner.fetchval("SHOW hba_file")), role)
            await owner.execute("SELECT pg_reload_conf()")
        finally:
            await owner.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(url_as(url, role, "wrong"))
        conn = await asyncpg.connect(url_as(url, role, password))
        try:
            await audit.record(conn, SYSTEM, "read", "client", [uuid.uuid4()])
            for statement in ("DELETE FROM audit_events", "TRUNCATE audit_events"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                    await conn.execute(statement)
            assert await conn.fetchval("SELECT count(*) FROM audit_events") == 1
        finally:
            await conn.close()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)
