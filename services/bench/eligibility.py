"""`bench eligibility`: benefit checks end to end against the clearinghouse simulator.

Each check writes a 270, sends it through the CORE client over HTTP to the simulator (a real
process started here), and parses the 271. The baseline is the simulator's health GET over the
same client and connection pool: plain HTTP round trips measured in the same run, so the ratio
says what the 270/271 work costs on top of the transport.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import httpx

from services.clearinghouse.client import CoreHttpClient
from services.core import clock
from services.core.settings import load_settings
from services.core.x12 import ControlNumbers
from services.eligibility.x12 import (
    Payer270,
    Person270,
    Receiver270,
    Request270,
    envelope_270,
    parse_271,
    write_270,
)

REPO = Path(__file__).resolve().parents[2]
CONCURRENCY = 8
BASELINE = "simulator_health_get"


def _request(trace: str) -> Request270:
    return Request270(
        payer=Payer270(x12_id="EVGRN", name="Evergreen Health Plan"),
        receiver=Receiver270(npi="1654321870", last_or_org_name="Okafor", first_name="Maya"),
        patient=Person270(
            first_name="Jordan", last_name="Lee", birth_date=date(1990, 4, 12),
            member_id="EVG100001",
        ),
        trace=trace, ein="990000001", service_date=date(2026, 11, 26), reference=trace[:30],
    )  # fmt: skip


async def _rate(work: Callable[[], Awaitable[float]], seconds: float) -> tuple[float, list[float]]:
    """Calls per second with CONCURRENCY workers, and each call's latency in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            latencies.append(await work())

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(latencies) / (time.perf_counter() - began), latencies


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _measure(base: str, seconds: float) -> None:
    settings = load_settings(
        {"HEARTH_ENV": "development", "HEARTH_CLEARINGHOUSE_URL": f"{base}/core"}
    )
    counter = iter(range(1, 10**9))
    # One transport (connection pool) for the checks and the baseline's GETs.
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=CONCURRENCY))
    async with httpx.AsyncClient(transport=transport) as http:
        client = CoreHttpClient.from_settings(settings, transport=transport)

        async def health() -> float:
            began = time.perf_counter()
            (await http.get(f"{base}/_admin/health")).raise_for_status()
            return (time.perf_counter() - began) * 1000

        async def check() -> float:
            began = time.perf_counter()
            trace = uuid.uuid4().hex
            n = next(counter)
            x270 = write_270(
                _request(trace),
                envelope=envelope_270("HEARTH", "HEARTHCH"),
                control=ControlNumbers(interchange=n, group=n),
                now=clock.now(),
            )
            benefits = parse_271(await client.realtime("X12_270_Request_005010X279A1", x270), trace)
            assert benefits.status == "active"
            return (time.perf_counter() - began) * 1000

        await check()  # warm up the connection pool and the simulator
        baseline, _ = await _rate(health, seconds)
        checks, latencies = await _rate(check, seconds)
    print(
        f"bench eligibility checks_per_s={checks:.0f} p99_ms={_p99(latencies):.1f} "
        f"concurrency={CONCURRENCY} baseline={BASELINE} baseline_per_s={baseline:.0f} "
        f"ratio={checks / baseline:.3f}"
    )
    print(f"bench eligibility_baseline name={BASELINE} per_s={baseline:.0f}")


def main() -> None:
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1")) * 3
    simulator = subprocess.Popen(
        [sys.executable, "-m", "infra.clearinghouse", "--host", "127.0.0.1", "--port", "0",
         "--today", "2026-11-26"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert simulator.stdout is not None
        first = simulator.stdout.readline().strip()
        if not first.startswith("listening on "):
            raise SystemExit(f"the simulator did not start: {first!r}")
        base = first.removeprefix("listening on ")
        for _ in range(100):
            try:
                if httpx.get(f"{base}/_admin/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        asyncio.run(_measure(base, seconds))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    main()
