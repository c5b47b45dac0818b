"""Forward-only SQL migrations: one transaction each, checksummed, under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
_LOCK_KEY = 0x4845_4152_5448  # "HEARTH"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

log = logging.getLogger(__name__)


class MigrationError(Exception):
    """The database and the migration files disagree; start-up must stop."""


def discover(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, str, str]]:
    """(version, file name, sql, sha256) for every migration file, in order."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        sql = path.read_text(encoding="utf-8")
        found.append((int(match[1]), path.name, sql, hashlib.sha256(sql.encode()).hexdigest()))
    versions = [v for v, *_ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied."""
    files = discover(directory)
    conn = await asyncpg.connect(dsn)
    try:
        # Session-level lock: a second process waits here, then finds nothing left to do.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _apply(conn, files)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _apply(conn: asyncpg.Connection, files: list[tuple[int, str, str, str]]) -> list[str]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    applied = {
        r["version"]: (r["name"], r["checksum"])
        for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    }
    done = []
    for version, name, sql, checksum in files:
        if version in applied:
            if applied[version][1] != checksum:
                raise MigrationError(
                    f"{name}: applied migration was edited (checksum differs); "
                    "add a new migration instead"
                )
            continue
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version,
                name,
                checksum,
            )
        log.info("migration applied", extra={"migration": name})
        done.append(name)
    known = {v for v, *_ in files}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise MigrationError(f"database has migrations this code does not know: {unknown}")
    return done
