"""The application's least-privilege role: normal work succeeds, audit rows cannot be removed.

The tests connect as superuser, for whom the audit trigger is the only barrier (and a superuser
or the owner can disable it); these tests connect as the role `grant-app-role` makes. Roles are
cluster-wide: each test makes its own uniquely named role and drops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import pytest

from services.app import close_resources, create_app, open_resources
from services.cli import reencrypt_tax_ids
from services.core import audit
from services.core.auth import SYSTEM, issue_access_token
from services.core.dbroles import RoleError, grant_app_role
from services.core.settings import Settings
from tests.conftest import ROOT
from tests.factories import make_ops, provider_body


def url_as(url: str, role: str, password: str) -> str:
    """`url` with its user and password replaced (TCP or Unix-socket form)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


class AppRole(msgspec.Struct):
    name: str
    password: str
    url: str  # the committed database, as the role


async def drop_role(owner: asyncpg.Connection, role: str) -> None:
    # DROP OWNED also drops the privileges and default privileges granted to the role here.
    if await owner.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        await owner.execute(f'DROP OWNED BY "{role}"')
        await owner.execute(f'DROP ROLE "{role}"')


@pytest.fixture
async def owner(committed_db: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(committed_db)
    yield conn
    await conn.close()


@pytest.fixture
async def app_role(owner: asyncpg.Connection, committed_db: str) -> AsyncIterator[AppRole]:
    name = f"hearth_app_t{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    try:
        async with owner.transaction():
            await grant_app_role(owner, name, password)
        yield AppRole(name, password, url_as(committed_db, name, password))
    finally:
        await drop_role(owner, name)


@pytest.fixture
async def as_role(app_role: AppRole) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(app_role.url)
    yield conn
    await conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_events",
        "UPDATE audit_events SET action = 'read'",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_update ON audit_events",
        "DROP TABLE audit_events",
        "ALTER TABLE audit_events RENAME TO audit_events_old",
        "SET session_replication_role = replica",  # would skip every trigger
        "DELETE FROM credentialing_events",
        "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
    ],
)
async def test_the_app_role_cannot_remove_an_audit_row(
    owner: asyncpg.Connection, as_role: asyncpg.Connection, statement: str
) -> None:
    entity_id = uuid.uuid4()
    await audit.record(as_role, SYSTEM, "read", "client", [entity_id])  # it may append
    assert await as_role.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity_id = $1", entity_id
    )
    # Refused by privileges, not by the trigger (which the owner or a superuser can disable).
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
        await as_role.execute(statement)
    assert "append-only" not in str(refused.value)
    assert (
        await owner.fetchval("SELECT count(*) FROM audit_events WHERE entity_id = $1", entity_id)
        == 1
    )
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass"
            " AND tgenabled = 'O'"
        )
        == 2
    )


async def test_the_app_works_as_that_role(
    owner: asyncpg.Connection,
    app_role: AppRole,
    settings: Settings,
) -> None:
    app_settings = msgspec.structs.replace(settings, database_url=app_role.url)
    ops = await make_ops(owner)
    signed = issue_access_token(ops, app_settings, version=0, session_id=uuid.uuid4())
    headers = {"Authorization": f"Bearer {signed}"}
    app = create_app(app_settings)
    await open_resources(app, app_settings)
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as api:
            created = await api.post("/providers", json=provider_body(), headers=headers)
            assert created.status_code == 201, created.text
            path = f"/providers/{created.json()['provider']['id']}"
            patched = await api.patch(path, json={"tax_id": "12-3456789"}, headers=headers)
            assert patched.status_code == 200, patched.text
            assert (await api.get(path, headers=headers)).status_code == 200
            signup = await api.post(
                "/clients/signup",
                json={
                    "email": f"c-{uuid.uuid4().hex[:8]}@example.test",
                    "password": "a long enough password",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "date_of_birth": "1990-04-01",
                    "sex": "F",
                    "address": {
                        "line1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"
                    },
                },
            )  # fmt: skip
            assert signup.status_code == 202, signup.text
    finally:
        await close_resources(app)
    provider_id = uuid.UUID(created.json()["provider"]["id"])
    actions = await owner.fetch(
        "SELECT action FROM audit_events WHERE entity_id = $1 ORDER BY id", provider_id
    )
    assert [r["action"] for r in actions] == ["create", "update"]
    # The maintenance command and the X12 control numbers work as the role too.
    rotated = msgspec.structs.replace(
        app_settings,
        tax_id_keys="k2:" + "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE=," + settings.tax_id_keys,
    )
    assert await reencrypt_tax_ids(rotated) >= 1
    as_role = await asyncpg.connect(app_role.url)
    try:
        assert await as_role.fetchval("SELECT nextval('x12_interchange_control')") >= 1
    finally:
        await as_role.close()


async def test_tables_of_later_migrations_are_granted_by_default(
    owner: asyncpg.Connection, as_role: asyncpg.Connection
) -> None:
    await owner.execute("CREATE TABLE later_table (id BIGINT GENERATED ALWAYS AS IDENTITY, v TEXT)")
    await as_role.execute("INSERT INTO later_table (v) VALUES ('x')")
    assert await as_role.fetchval("SELECT v FROM later_table") == "x"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_role.execute("TRUNCATE later_table")
    await owner.execute("DROP TABLE later_table")


async def test_granting_again_changes_nothing_and_bad_roles_are_refused(
    owner: asyncpg.Connection, app_role: AppRole
) -> None:
    grants = """
        SELECT table_name, privilege_type FROM information_schema.role_table_grants
        WHERE grantee = $1 ORDER BY 1, 2
    """
    before = await owner.fetch(grants, app_role.name)
    assert ("audit_events", "INSERT") in {tuple(r) for r in before}
    assert ("audit_events", "DELETE") not in {tuple(r) for r in before}
    await grant_app_role(owner, app_role.name, None)
    assert await owner.fetch(grants, app_role.name) == before
    with pytest.raises(RoleError, match="owner"):
        await grant_app_role(owner, await owner.fetchval("SELECT current_user"), None)
    superuser = f"hearth_su_t{uuid.uuid4().hex[:12]}"
    await owner.execute(f'CREATE ROLE "{superuser}" SUPERUSER')
    try:
        with pytest.raises(RoleError, match="superuser"):
            await grant_app_role(owner, superuser, None)
    finally:
        await drop_role(owner, superuser)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_command_connects_with_the_migration_url(
    owner: asyncpg.Connection, committed_db: str
) -> None:
    role = f"hearth_app_t{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "HEARTH_ENV": "test",
        # The application's URL names the role that does not exist yet: only the owner's works.
        "DATABASE_URL": url_as(committed_db, role, "pw"),
        "HEARTH_MIGRATION_DATABASE_URL": committed_db,
        "HEARTH_APP_DB_PASSWORD": "pw",
    }
    try:
        migrated = _cli(env, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert "migrations applied: 0" in migrated.stdout
        for _ in range(2):  # idempotent
            done = _cli(env, "grant-app-role", "--role", role)
            assert done.returncode == 0, done.stderr
        as_role = await asyncpg.connect(env["DATABASE_URL"])
        try:
            assert await as_role.fetchval("SELECT current_user") == role
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_role.execute("DELETE FROM audit_events")
        finally:
            await as_role.close()
        password = await owner.fetchval(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role
        )
        assert password.startswith("SCRAM-SHA-256$4096:")
    finally:
        await drop_role(owner, role)
