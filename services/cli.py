"""Operator commands: `python -m services.cli <command>` (see --help)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

import asyncpg

from services.core import clock
from services.core.migrations import MigrationError, migrate
from services.core.settings import Settings, SettingsError, load_settings


def _owner_url(settings: Settings) -> str:
    return settings.migration_database_url or settings.database_url


async def _migrate(settings: Settings) -> int:
    applied = await migrate(_owner_url(settings))
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


async def _create_ops_user(settings: Settings, email: str) -> int:
    from services.identity.errors import EmailTaken
    from services.identity.service import create_user

    password = os.environ.get("HEARTH_OPS_PASSWORD") or getpass.getpass("Password (12+ chars): ")
    if len(password) < 12:
        print("password must have at least 12 characters", file=sys.stderr)
        return 2
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with conn.transaction():
            user_id = await create_user(conn, settings, email, "ops", password)
    except EmailTaken:
        print(f"a user with email {email} already exists", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(f"ops user created: {user_id}")
    return 0


async def reencrypt_tax_ids(settings: Settings, batch_size: int = 100) -> int:
    """Rewrite every tax id not under the newest key and the provider-bound scheme.

    Each batch is its own short transaction with its rows locked, so the command can be
    interrupted at any point and run again: rows already rewritten are no longer selected.
    Returns how many rows were rewritten.
    """
    from services.core.crypto import Keyring
    from services.providers.tax_ids import reencrypt_batch

    keyring = Keyring(settings.tax_id_keyring())
    conn = await asyncpg.connect(settings.database_url)
    total, after = 0, None
    try:
        while True:
            async with conn.transaction():
                done, after = await reencrypt_batch(conn, keyring, after, batch_size)
            total += done
            if done < batch_size:
                return total
    finally:
        await conn.close()


async def _reencrypt_tax_ids(settings: Settings, batch_size: int) -> int:
    from services.providers.tax_ids import TaxIdUnreadable

    try:
        total = await reencrypt_tax_ids(settings, batch_size)
    except TaxIdUnreadable as exc:
        # The batches before this one are committed; rerunning after the fix resumes.
        print(f"re-encryption stopped: {exc}", file=sys.stderr)
        return 1
    print(f"tax ids re-encrypted under key {next(iter(settings.tax_id_keyring()))}: {total}")
    return 0


async def _grant_app_role(settings: Settings, role: str, ask_password: bool) -> int:
    from services.core.dbroles import RoleError, grant_app_role

    password = os.environ.get("HEARTH_APP_DB_PASSWORD") or None
    if password is None and ask_password:
        password = getpass.getpass(f"Password for role {role} (empty: leave it unchanged): ")
    conn = await asyncpg.connect(_owner_url(settings))
    try:
        async with conn.transaction():
            await grant_app_role(conn, role, password or None)
    except RoleError as exc:
        print(f"cannot grant role {role}: {exc}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(f"role {role} may read and write the application's tables (audit rows: insert only)")
    return 0


async def _post_835(settings: Settings, paths: list[str]) -> int:
    """Post 835 files from disk, each in its own transaction (a file refused is named)."""
    from services.core.auth import SYSTEM
    from services.core.db import create_pool
    from services.remittance.errors import Refused835
    from services.remittance.service import post_file

    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    failed = 0
    try:
        for path in paths:
            raw = await asyncio.to_thread(Path(path).read_bytes)
            try:
                out, _ = await post_file(pool, raw, "upload", SYSTEM)
            except Refused835 as exc:
                print(f"{path}: refused: {exc.detail}", file=sys.stderr)
                failed += 1
                continue
            print(f"{path}: {out.status.replace('_', ' ')} ({len(out.payments)} payment(s))")
    finally:
        await pool.close()
    return 1 if failed else 0


async def _load_demo_data(settings: Settings) -> int:
    from services.dev.demo_data import load_demo_data

    if settings.env != "development":
        print(f"demo data is loaded in development only (HEARTH_ENV={settings.env})")
        return 0
    loaded = await load_demo_data(settings)
    print("demo data loaded" if loaded else "database already has users: demo data not loaded")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations")
    ops = sub.add_parser("create-ops-user", help="create an ops user (password from a prompt)")
    ops.add_argument("--email", required=True)
    sub.add_parser("load-demo-data", help="load the demo world into an empty development database")
    grant = sub.add_parser(
        "grant-app-role",
        help="create or update the application's least-privilege role (run as the owner)",
    )
    grant.add_argument("--role", required=True)
    grant.add_argument(
        "--no-password",
        action="store_true",
        help="do not prompt (HEARTH_APP_DB_PASSWORD still sets one): peer or certificate login",
    )
    reencrypt = sub.add_parser(
        "reencrypt-tax-ids", help="re-encrypt every tax id under the first HEARTH_TAX_ID_KEYS key"
    )
    reencrypt.add_argument("--batch-size", type=int, default=100)
    post_835 = sub.add_parser("post-835", help="post 835 files (a repeated payment is skipped)")
    post_835.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    clock.start(settings.clock_shift_to, settings.clock_shift_from)
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "create-ops-user":
            return asyncio.run(_create_ops_user(settings, args.email))
        if args.command == "grant-app-role":
            return asyncio.run(_grant_app_role(settings, args.role, not args.no_password))
        if args.command == "reencrypt-tax-ids":
            return asyncio.run(_reencrypt_tax_ids(settings, max(1, args.batch_size)))
        if args.command == "post-835":
            return asyncio.run(_post_835(settings, args.files))
        return asyncio.run(_load_demo_data(settings))
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
