"""The servers an API benchmark runs against: its world, the simulator and uvicorn.

A real API process (started with `make run`'s arguments, passed by infra in BENCH_API_ARGV)
and the clearinghouse simulator, over the fresh database infra made (migrated here, the demo
world loaded, as of AS_OF) and a Redis key namespace of its own, deleted afterwards. Used by
`bench eligibility_api` and `bench session_completion`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from redis.asyncio import Redis

from services.core import clock
from services.core.migrations import migrate
from services.core.settings import load_settings
from services.dev.demo_data import load_demo_data

REPO = Path(__file__).resolve().parents[2]
# The simulator's world holds claims of 2026: every process runs as of this instant.
AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
START_TIMEOUT_S = 60.0
SIMULATOR_ARGV = (sys.executable, "-m", "infra.clearinghouse")
STRIPE_ARGV = (sys.executable, "-m", "infra.stripe")


@dataclass(frozen=True)
class Served:
    """The running API: its URL and process id (for its CPU), and its database's URL."""

    url: str
    pid: int
    database_url: str


async def prepare(env: dict[str, str]) -> None:
    """Migrations and the demo world, as of AS_OF.

    The demo passwords are hashed at a cheap argon2 cost here (the hash carries its cost, so the
    API verifies the one login at that cost): setting up is not what is measured.
    """
    settings = load_settings(
        {**env, "HEARTH_ARGON2_TIME_COST": "1", "HEARTH_ARGON2_MEMORY_KIB": "1024"}
    )
    await migrate(settings.database_url)
    await load_demo_data(settings, AS_OF.date())


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        # Our own argv (this interpreter, our modules), nothing from outside.
        proc = subprocess.Popen(  # noqa: S603
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{log.stem} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(
        f"{url} did not answer within {START_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_world(name: str) -> dict[str, str]:
    """The fresh database infra passes (`make bench`) migrated, the demo world loaded and this
    process's clock at AS_OF; the environment a benchmark with no API runs in."""
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if not database_url:
        raise SystemExit(
            "BENCH_DATABASE_URL not set: run this benchmark through `make bench`"
            f" (python -m infra.bench {name}), which provides the database"
        )
    env = {**os.environ, "HEARTH_ENV": "development", "DATABASE_URL": database_url}
    env.pop("HEARTH_MIGRATION_DATABASE_URL", None)
    clock.CLOCK.shift_to(AS_OF)
    asyncio.run(prepare(env))
    return env


@contextmanager
def stripe_simulator(env: dict[str, str], tmp: Path) -> Iterator[str]:
    """The Stripe simulator (infra/stripe) on a free port, delivering no webhooks: its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [*STRIPE_ARGV, "--host", "127.0.0.1", "--port", str(port)]
    with _process(argv, env, tmp / "stripe.log") as proc:
        _wait_ready(f"{url}/_admin/health", proc, tmp / "stripe.log")
        yield url


def percentile(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _forget(redis_url: str, namespace: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def bench_environment(name: str) -> tuple[str, str, list[str]]:
    """The database, Redis and API command line infra passes (`make bench`), or exit."""
    missing = [n for n in ("BENCH_DATABASE_URL", "BENCH_REDIS_URL", "BENCH_API_ARGV")
               if not os.environ.get(n)]  # fmt: skip
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not set: run this benchmark through `make bench` "
            f"(python -m infra.bench {name}), which provides the servers"
        )
    api_argv = msgspec.json.decode(os.environ["BENCH_API_ARGV"], type=list[str])
    return os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_REDIS_URL"], api_argv


@contextmanager
def serve(name: str, limits: dict[str, str], tmp: Path) -> Iterator[Served]:
    """The world loaded, then the simulator and the API running with these settings changed."""
    database_url, redis_url, api_argv = bench_environment(name)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        env = {
            **os.environ,
            "HEARTH_ENV": "development",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HEARTH_REDIS_NAMESPACE": namespace,
            "HEARTH_CLOCK_SHIFT_TO": AS_OF.isoformat(),
            "PYTHONPATH": str(REPO),
            **limits,
        }
        env.pop("HEARTH_MIGRATION_DATABASE_URL", None)
        clock.CLOCK.shift_to(AS_OF)
        asyncio.run(prepare(env))
        simulator_port, api_port = _free_port(), _free_port()
        simulator = [*SIMULATOR_ARGV, "--host", "127.0.0.1", "--port", str(simulator_port),
                     "--today", AS_OF.date().isoformat()]  # fmt: skip
        sim_url, api_url = f"http://127.0.0.1:{simulator_port}", f"http://127.0.0.1:{api_port}"
        env["HEARTH_CLEARINGHOUSE_URL"] = f"{sim_url}/core"
        api = [*api_argv, "--host", "127.0.0.1", "--port", str(api_port)]
        with (
            _process(simulator, env, tmp / "simulator.log") as sim_proc,
            _process(api, env, tmp / "api.log") as api_proc,
        ):
            _wait_ready(f"{sim_url}/_admin/health", sim_proc, tmp / "simulator.log")
            _wait_ready(f"{api_url}/health/ready", api_proc, tmp / "api.log")
            yield Served(url=api_url, pid=api_proc.pid, database_url=database_url)
    finally:
        asyncio.run(_forget(redis_url, namespace))
