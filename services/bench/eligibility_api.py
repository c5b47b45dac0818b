"""`bench eligibility_api`: benefit checks through the API, stored, as a client app makes them.

A real API process (uvicorn, started with `make run`'s arguments) and the clearinghouse
simulator, over a fresh database of its own (migrated, the demo world loaded) and its own Redis
key namespace (deleted afterwards). `python -m infra.bench` (`make bench`) runs it: infra owns
the servers (DATABASE_URL / REDIS_URL, or localhost's, or embedded ones), makes and drops the
database and passes, in the environment, BENCH_DATABASE_URL, BENCH_REDIS_URL and
BENCH_API_ARGV (JSON): services/ imports nothing from infra/.

The demo client Jordan signs in through POST /auth/login and uses that access token, as the
client app would: every request passes the full token check. At concurrency 8 the bench sends
`POST /benefit-checks` with `refresh: true` (a paid 270, answered 201 and stored with its audit
row) for her own policy. The baseline is `GET /benefit-checks/{id}` of one of those stored
checks by the same client and connection pool in the same run, in alternating turns of
ROUND_S: ratio = checks/s / GETs/s.

The refresh limits would stop a client refreshing this fast, so the API runs with these
settings, and with these only changed from development's defaults:
  HEARTH_BENEFIT_REFRESH_MIN_INTERVAL_S=0 (no per-policy minimum; default 3600): the per-policy
  check then returns before its query (one SELECT fewer than a check with a minimum makes);
  HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER=10000 per HEARTH_BENEFIT_REFRESH_WINDOW_S=3600
  (default 10): still counted in Redis on every refresh, it just does not trip.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from redis.asyncio import Redis

from services.bench.eligibility import CONCURRENCY, _rate
from services.core import clock
from services.core.migrations import migrate
from services.core.settings import load_settings
from services.dev.demo_data import DEMO_PASSWORD, load_demo_data

REPO = Path(__file__).resolve().parents[2]
BASELINE = "benefit_check_get"
# The simulator's world holds claims of 2026: every process runs as of this instant.
AS_OF = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CLIENT_EMAIL = "jordan.lee@hearth.test"
LIMITS = {
    "HEARTH_BENEFIT_REFRESH_MIN_INTERVAL_S": "0",
    "HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER": "10000",
    "HEARTH_BENEFIT_REFRESH_WINDOW_S": "3600",
}
START_TIMEOUT_S = 60.0
ROUND_S = 0.5
SIMULATOR_ARGV = (sys.executable, "-m", "infra.clearinghouse")


async def _prepare(env: dict[str, str]) -> None:
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


async def _alternate(
    first: Callable[[], Awaitable[float]], second: Callable[[], Awaitable[float]], seconds: float
) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """(calls per second, latencies) of each, run in turns of ROUND_S for `seconds` each.

    Turns, not one block each: the machine is shared, and a load that comes and goes then
    weighs on both sides of the ratio alike.
    """
    rounds = max(1, round(seconds / ROUND_S))
    spent = [0.0, 0.0]
    latencies: list[list[float]] = [[], []]
    for _ in range(rounds):
        for side, work in enumerate((first, second)):
            per_s, done = await _rate(work, seconds / rounds)
            spent[side] += len(done) / per_s if done else 0.0
            latencies[side] += done
    return (
        (len(latencies[0]) / spent[0], latencies[0]),
        (len(latencies[1]) / spent[1], latencies[1]),
    )


def _p(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _measure(api: str, policy_id: str, seconds: float) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=30) as http:
        login = await http.post(
            "/auth/login", json={"email": CLIENT_EMAIL, "password": DEMO_PASSWORD}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = msgspec.json.encode({"policy_id": policy_id, "refresh": True})
        post_headers = {**headers, "Content-Type": "application/json"}
        stored: list[str] = []

        async def check() -> float:
            began = time.perf_counter()
            response = await http.post("/benefit-checks", content=body, headers=post_headers)
            if response.status_code != 201:
                raise SystemExit(f"POST /benefit-checks: {response.status_code} {response.text}")
            elapsed = (time.perf_counter() - began) * 1000
            stored.append(response.json()["id"])
            return elapsed

        await asyncio.gather(*(check() for _ in range(CONCURRENCY)))  # warm every connection
        one = stored[0]

        async def get() -> float:
            began = time.perf_counter()
            response = await http.get(f"/benefit-checks/{one}", headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"GET /benefit-checks/{{id}}: {response.status_code}")
            return (time.perf_counter() - began) * 1000

        (baseline, base_latencies), (checks, latencies) = await _alternate(get, check, seconds)
    print(
        f"bench eligibility_api checks_per_s={checks:.0f} p50_ms={statistics.median(latencies):.1f}"
        f" p99_ms={_p(latencies, 0.99):.1f} concurrency={CONCURRENCY} baseline={BASELINE}"
        f" baseline_per_s={baseline:.0f} ratio={checks / baseline:.3f}"
    )
    print(
        f"bench eligibility_api_baseline name={BASELINE} per_s={baseline:.0f}"
        f" p50_ms={statistics.median(base_latencies):.1f} p99_ms={_p(base_latencies, 0.99):.1f}"
    )


async def _policy_of(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        policy: Any = await conn.fetchval(
            "SELECT p.id FROM insurance_policies p JOIN clients c ON c.id = p.client_id"
            " JOIN users u ON u.id = c.user_id WHERE u.email = $1",
            CLIENT_EMAIL,
        )
    finally:
        await conn.close()
    return str(policy)


async def _forget(redis_url: str, namespace: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{namespace}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def _run(database_url: str, redis_url: str, api_argv: list[str], seconds: float, tmp: Path) -> None:
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
            **LIMITS,
        }
        env.pop("HEARTH_MIGRATION_DATABASE_URL", None)
        clock.CLOCK.shift_to(AS_OF)
        asyncio.run(_prepare(env))
        policy_id = asyncio.run(_policy_of(database_url))
        simulator_port, api_port = _free_port(), _free_port()
        today = AS_OF.date().isoformat()
        simulator = [*SIMULATOR_ARGV, "--host", "127.0.0.1", "--port", str(simulator_port),
                     "--today", today]  # fmt: skip
        sim_url = f"http://127.0.0.1:{simulator_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        env["HEARTH_CLEARINGHOUSE_URL"] = f"{sim_url}/core"
        api = [*api_argv, "--host", "127.0.0.1", "--port", str(api_port)]
        with (
            _process(simulator, env, tmp / "simulator.log") as sim_proc,
            _process(api, env, tmp / "api.log") as api_proc,
        ):
            _wait_ready(f"{sim_url}/_admin/health", sim_proc, tmp / "simulator.log")
            _wait_ready(f"{api_url}/health/ready", api_proc, tmp / "api.log")
            asyncio.run(_measure(api_url, policy_id, seconds))
    finally:
        asyncio.run(_forget(redis_url, namespace))


def main() -> None:
    missing = [n for n in ("BENCH_DATABASE_URL", "BENCH_REDIS_URL", "BENCH_API_ARGV")
               if not os.environ.get(n)]  # fmt: skip
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not set: run this benchmark through `make bench` "
            "(python -m infra.bench), which provides the servers"
        )
    api_argv = msgspec.json.decode(os.environ["BENCH_API_ARGV"], type=list[str])
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1")) * 3
    with tempfile.TemporaryDirectory() as tmp:
        _run(
            os.environ["BENCH_DATABASE_URL"],
            os.environ["BENCH_REDIS_URL"],
            api_argv,
            seconds,
            Path(tmp),
        )


if __name__ == "__main__":
    main()
