"""The application's least-privilege database role: it reads and writes rows and owns nothing.

Migrations run as the schema's owner (HEARTH_MIGRATION_DATABASE_URL). The owner may alter,
drop and truncate tables and disable their triggers, so the application must not connect as
it (nor as a superuser): whoever took over the application could then remove audit rows. The
application's role gets SELECT, INSERT, UPDATE and DELETE on the tables, and through the
owner's default privileges on the tables later migrations create; on append-only tables only
SELECT and INSERT. A migration that adds an append-only table revokes UPDATE and DELETE on it
and adds it to APPEND_ONLY_TABLES, so a rerun of the command keeps it that way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import asyncpg

APPEND_ONLY_TABLES = (
    "audit_events",
    "credentialing_events",
    "ledger_accounts",
    "journal_entries",
    "journal_lines",
    "recoupment_policy_changes",
    # A payout schedule's history and the trial-balance checks: new rows, never changed.
    "payout_schedules",
    "trial_balance_checks",
)
# The application checks which migrations ran; only the owner records them.
READ_ONLY_TABLES = ("schema_migrations",)
_SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


class RoleError(Exception):
    """The role cannot be made the application's role; the message says why."""


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the password never reaches its logs."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


async def _run(conn: asyncpg.Connection, template: str, *names: str) -> None:
    """A utility statement, which takes no bind parameters: format() quotes %I and %L."""
    statement = await conn.fetchval("SELECT format($1, VARIADIC $2::text[])", template, list(names))
    await conn.execute(statement)


async def _ensure_role(conn: asyncpg.Connection, role: str, owner: str) -> None:
    found = await conn.fetchrow(
        """
        SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication
        FROM pg_roles WHERE rolname = $1
        """,
        role,
    )
    if found is None:
        await _run(
            conn,
            "CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
            role,
        )
    elif found[0]:
        raise RoleError(
            f"role {role} has superuser, createrole, createdb, bypassrls or replication"
        )
    if await conn.fetchval("SELECT pg_has_role($1, $2, 'MEMBER')", role, owner):
        raise RoleError(f"role {role} is a member of the owner {owner}")


async def grant_app_role(conn: asyncpg.Connection, role: str, password: str | None) -> None:
    """Create `role` if needed and grant it what the application needs, and no more.

    Run as the owner, after the migrations. Idempotent: the table privileges are reset and
    granted again each time. `password` None leaves the role's password as it is.
    """
    owner: str = await conn.fetchval("SELECT current_user")
    if role == owner:
        raise RoleError("the application's role must not be the owner")
    if not 1 <= len(role) <= 63:
        raise RoleError("a role name has 1 to 63 characters")
    if await conn.fetchval("SELECT to_regclass('public.schema_migrations')") is None:
        raise RoleError("no schema_migrations table: run the migrations first")
    await _ensure_role(conn, role, owner)
    if password is not None:
        await _run(conn, "ALTER ROLE %I PASSWORD %L", role, scram_verifier(password))
    database: str = await conn.fetchval("SELECT current_database()")
    await _run(conn, "GRANT CONNECT ON DATABASE %I TO %I", database, role)
    await _run(conn, "GRANT USAGE ON SCHEMA public TO %I", role)
    await _run(conn, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I", role)
    await _run(
        conn, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I", role
    )
    for table in APPEND_ONLY_TABLES:
        if await conn.fetchval("SELECT to_regclass($1)", f"public.{table}") is not None:
            await _run(conn, "REVOKE UPDATE, DELETE ON %I FROM %I", table, role)
    for table in READ_ONLY_TABLES:
        await _run(conn, "REVOKE INSERT, UPDATE, DELETE ON %I FROM %I", table, role)
    await _run(conn, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I", role)
    # Tables and sequences the owner creates later (new migrations) are granted as they appear.
    await _run(
        conn,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE"
        " ON TABLES TO %I",
        role,
    )
    await _run(
        conn,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I",
        role,
    )
