"""Operator commands: `python -m services.cli migrate | create-ops-user | load-demo-data`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

import asyncpg

from services.core import clock
from services.core.migrations import MigrationError, migrate
from services.core.settings import Settings, SettingsError, load_settings


async def _migrate(settings: Settings) -> int:
    applied = await migrate(settings.database_url)
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


async def _create_ops_user(settings: Settings, email: str) -> int:
    from services.identity.service import EmailTaken, create_user

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


async def _load_demo_data(settings: Settings) -> int:
    from services.devdata import load_demo_data

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
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    clock.start(settings.clock_shift_to)
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "create-ops-user":
            return asyncio.run(_create_ops_user(settings, args.email))
        return asyncio.run(_load_demo_data(settings))
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
