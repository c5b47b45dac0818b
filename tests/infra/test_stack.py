"""The local stack's embedded fallback, started for real (localhost is skipped on purpose)."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from infra.local.embedded import redis_answers
from infra.local.stack import (
    LocalStack,
    drop_database,
    ensure_database,
    with_database,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # One data dir for the module: initdb runs once, later starts reuse it. Not under pytest's
    # tmp_path: as root, pgserver runs postgres as the user `pgserver` and opens up the data
    # dir's parents, but each xdist worker resets pytest's base dir to 0700 when it starts.
    path = Path(tempfile.mkdtemp(prefix="hearth-stack-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; on Linux /proc says so.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


async def query(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


def start_holder(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """Another process holding an embedded stack in `data_dir`; returns it and its Redis URL."""
    holder = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack", "urls", "--hold", "--data-dir", str(data_dir)],
        cwd=REPO,
        env={**os.environ, "HEARTH_LOCAL_PROBE": "0"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    lines = [holder.stdout.readline(), holder.stdout.readline()]
    assert lines[1].startswith("REDIS_URL=unix://"), lines
    return holder, lines[1].split("=", 1)[1].strip()


def test_embedded_postgres_and_redis_start_answer_and_stop(
    data_dir: Path, no_server_env: None
) -> None:
    with LocalStack(data_dir, probe_localhost=False) as stack:
        assert (stack.postgres_source, stack.redis_source) == ("embedded", "embedded")
        assert asyncio.run(query(stack.server_url)) == "postgres"

        url = ensure_database(stack.server_url, "hearth_stack_test")
        assert ensure_database(stack.server_url, "hearth_stack_test") == url
        assert asyncio.run(query(url)) == "hearth_stack_test"
        drop_database(stack.server_url, "hearth_stack_test")

        client = redis.Redis.from_url(stack.redis_url)
        assert client.ping()
        client.close()
        pg_pid = postmaster_pid(data_dir)
        redis_url = stack.redis_url

    assert not alive(pg_pid)
    assert not redis_answers(redis_url)


def test_servers_left_by_a_killed_process_are_stopped_on_start(
    data_dir: Path, no_server_env: None
) -> None:
    holder, _ = start_holder(data_dir)
    stale_pg = postmaster_pid(data_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert alive(stale_pg), "pgserver's postgres outlives a killed parent"

    with LocalStack(data_dir, probe_localhost=False) as stack:
        assert not alive(stale_pg)
        assert asyncio.run(query(stack.server_url)) == "postgres"
        assert redis.Redis.from_url(stack.redis_url).ping()
        fresh_pg = postmaster_pid(data_dir)
    assert not alive(fresh_pg)


def test_sigterm_stops_the_embedded_servers(data_dir: Path, no_server_env: None) -> None:
    holder, redis_url = start_holder(data_dir)
    pg_pid = postmaster_pid(data_dir)
    holder.terminate()
    assert holder.wait(timeout=15) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 5
    while alive(pg_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pg_pid)
    assert not redis_answers(redis_url)


def test_environment_urls_win_and_start_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://app:secret@db.internal:6543/hearth?sslmode=require"
    )
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/3")
    with LocalStack(tmp_path) as stack:
        assert (
            stack.server_url == "postgresql://app:secret@db.internal:6543/postgres?sslmode=require"
        )
        assert stack.redis_url == "redis://cache.internal:6380/3"
    assert list(tmp_path.iterdir()) == []


def test_with_database_keeps_a_unix_socket_host() -> None:
    url = "postgresql://postgres:@/postgres?host=/x/.data/pg"
    assert with_database(url, "hearth") == "postgresql://postgres:@/hearth?host=/x/.data/pg"
