"""`bench eligibility_api`: benefit checks through the API, stored, as a client app makes them.

A real API process (uvicorn, started with `make run`'s arguments) and the clearinghouse
simulator, over a fresh database of its own (migrated, the demo world loaded) and its own Redis
key namespace (deleted afterwards): services/bench/served.py. `python -m infra.bench`
(`make bench`) runs it: infra owns the servers (DATABASE_URL / REDIS_URL, or localhost's, or
embedded ones), makes and drops the database and passes, in the environment,
BENCH_DATABASE_URL, BENCH_REDIS_URL and BENCH_API_ARGV (JSON): services/ imports nothing from
infra/.

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
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from services.bench.eligibility import CONCURRENCY, _rate
from services.bench.served import percentile, serve
from services.dev.demo_data import DEMO_PASSWORD

BASELINE = "benefit_check_get"
CLIENT_EMAIL = "jordan.lee@hearth.test"
LIMITS = {
    "HEARTH_BENEFIT_REFRESH_MIN_INTERVAL_S": "0",
    "HEARTH_BENEFIT_REFRESH_MAX_PER_CALLER": "10000",
    "HEARTH_BENEFIT_REFRESH_WINDOW_S": "3600",
}
ROUND_S = 0.5


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
        f" p99_ms={percentile(latencies, 0.99):.1f} concurrency={CONCURRENCY} baseline={BASELINE}"
        f" baseline_per_s={baseline:.0f} ratio={checks / baseline:.3f}"
    )
    print(
        f"bench eligibility_api_baseline name={BASELINE} per_s={baseline:.0f}"
        f" p50_ms={statistics.median(base_latencies):.1f}"
        f" p99_ms={percentile(base_latencies, 0.99):.1f}"
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


def main() -> None:
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1")) * 3
    with tempfile.TemporaryDirectory() as tmp, serve("eligibility_api", LIMITS, Path(tmp)) as api:
        policy_id = asyncio.run(_policy_of(api.database_url))
        asyncio.run(_measure(api.url, policy_id, seconds))


if __name__ == "__main__":
    main()
