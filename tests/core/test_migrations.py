"""Migrations apply from empty, stop on an edited file, and are safe to run concurrently."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from services.core.migrations import MIGRATIONS_DIR, MigrationError, discover, migrate


async def test_every_migration_applies_to_an_empty_database(committed_db: str) -> None:
    # committed_db is a copy of the migrated template: check it has exactly every file.
    conn = await asyncpg.connect(committed_db)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY 1")
    finally:
        await conn.close()
    assert [(r["version"], r["checksum"]) for r in rows] == [(v, c) for v, _, _, c in discover()]


async def test_migrating_again_applies_nothing(committed_db: str) -> None:
    assert await migrate(committed_db) == []


async def test_two_processes_migrating_at_once_apply_each_file_once(
    empty_db: str,
) -> None:
    results = await asyncio.gather(migrate(empty_db), migrate(empty_db))
    applied = sorted(results[0] + results[1])
    assert applied == sorted(name for _, name, _, _ in discover())


async def test_an_edited_applied_migration_stops_start_up(
    committed_db: str, tmp_path: Path
) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=first.name):
        await migrate(committed_db, copy)


async def test_a_failing_migration_leaves_nothing_behind(empty_db: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    (copy / "9999_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n"
    )
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(empty_db, copy)
    conn = await asyncpg.connect(empty_db)
    try:
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") < 9999
    finally:
        await conn.close()
