"""`bench session_completion`: completions through the API, beside pgbench's TPC-B.

The same servers as `bench eligibility_api` (services/bench/served.py: a real uvicorn API as
`make run` starts it and the clearinghouse simulator over a fresh database with the demo world,
as of AS_OF, with eligibility_api's refresh limits). Before the load: ops book POOL_PER_S x
seconds sessions through the booking service between Maya Okafor and two Evergreen members she
sees (Jordan Lee, Avery Patel), and she checks each member's benefits through the API (a paid
270, stored), so that every completion is a real one: valid coding, credentialed provider,
active policy, a benefit check, and a stored claim and journal entry.

The load: Maya signs in through POST /auth/login and, at concurrency 8, completes those
sessions (POST /therapy-sessions/{id}/complete, a 90834 in office, with an Idempotency-Key as
a careful client sends). The baseline is pgbench's TPC-B with 8 clients (2 threads) on its own
scratch database of the same server, in turns of ROUND_S with the completions (the machine is
shared: a load that comes and goes weighs on both sides alike). infra passes pgbench's path
and that database in BENCH_PGBENCH and BENCH_PGBENCH_DATABASE_URL; without them the line has
no ratio and stderr says why. A second line says where the time goes: CPU per completion of
the API process, of the database's backends and of this load generator (/proc), and per
completion the transactions committed, rows written and index scans (pg_stat_database and
pg_stat_user_tables: statement counts would need pg_stat_statements preloaded).

Measured on the shared 2-core development machine (December 2026, four runs alternated with
the code before, load 3-4.5): a completion is the token check plus one transaction of 13
statements (was 27, plus a reset query after it), 2.0 commits (was 2.9), about 3.3 ms of API
and 3.5 ms of PostgreSQL CPU (was 4.3 and 4.6). pgbench's TPC-B spends about 1 ms of CPU in
all per transaction there (2 cores / ~2,000 tps when the machine is quiet), so with ~8 ms per
completion, load generator included, the ratio is bounded near 0.15 whatever the load: the
0.5 goal needs about 2 ms per completion, below the API's own CPU for one request.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec

from schemas.therapy_sessions import BookSessionIn
from services.bench.eligibility import CONCURRENCY
from services.bench.eligibility_api import LIMITS
from services.bench.served import AS_OF, Served, percentile, serve
from services.core.auth import Actor
from services.core.db import init_connection
from services.dev.demo_data import DEMO_PASSWORD, OPS_EMAIL
from services.therapy_sessions.service import book_session

PROVIDER_EMAIL = "maya.okafor@hearth.test"
MEMBERS = ("jordan.lee@hearth.test", "avery.patel@hearth.test")  # Evergreen, her clients
ROUND_S = 1.0  # pgbench -T takes whole seconds
POOL_PER_S = 400  # sessions booked per second of load; running out ends the run early
STARTED = AS_OF - timedelta(hours=2)
BODY = msgspec.json.encode(
    {
        "lines": [{"cpt_code": "90834", "modifiers": [], "diagnosis_pointers": [1]}],
        "diagnosis_codes": ["F41.1"],
        "place_of_service": "11",
        "started_at": STARTED.isoformat(),
        "duration_minutes": 45,
        "note_attested": True,
    }
)
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)$", re.MULTILINE)
_DONE = re.compile(r"^number of transactions actually processed: ([0-9]+)", re.MULTILINE)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MACHINE_PGBENCH_HINT = "/usr/lib/postgresql/<version>/bin/pgbench"


@dataclass
class World:
    """What the load needs from the demo world."""

    policies: list[str]
    sessions: deque[str] = field(default_factory=deque)


async def _book(database_url: str, count: int) -> World:
    """`count` sessions booked by ops through the booking service, as of AS_OF."""
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        ops = await conn.fetchval("SELECT id FROM users WHERE email = $1", OPS_EMAIL)
        provider = await conn.fetchval(
            "SELECT p.id FROM providers p JOIN users u ON u.id = p.user_id WHERE u.email = $1",
            PROVIDER_EMAIL,
        )
        members = await conn.fetch(
            "SELECT c.id AS client_id, p.id AS policy_id FROM clients c"
            " JOIN users u ON u.id = c.user_id JOIN insurance_policies p ON p.client_id = c.id"
            " WHERE u.email = ANY($1::text[]) ORDER BY u.email",
            list(MEMBERS),
        )
        actor = Actor(user_id=ops, role="ops")
        world = World(policies=[str(m["policy_id"]) for m in members])
        async with conn.transaction():
            for n in range(count):
                member = members[n % len(members)]
                session = await book_session(
                    conn,
                    actor,
                    BookSessionIn(
                        provider_id=provider,
                        client_id=member["client_id"],
                        policy_id=member["policy_id"],
                        starts_at=AS_OF + timedelta(days=1, minutes=n),
                        duration_minutes=45,
                        place_of_service="11",
                    ),
                )
                world.sessions.append(str(session.id))
    finally:
        await conn.close()
    return world


def cpu_ms(pids: list[int]) -> float:
    """User + system CPU of these processes so far, in ms (a process gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1000 / _CLOCK_TICKS


_STATS = (
    "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),"
    " (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables),"
    " (SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables)"
)


async def _database_stats(database_url: str) -> tuple[list[int], tuple[int, int, int]]:
    """The database's backends' pids, and its commits, rows written and index scans so far."""
    conn = await asyncpg.connect(database_url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        # The statistics collector's snapshot of this transaction: start a fresh one.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(_STATS)
    finally:
        await conn.close()
    assert row is not None
    return [r["pid"] for r in pids], (int(row[0]), int(row[1]), int(row[2]))


def _pgbench(pgbench: str, url: str, seconds: int) -> tuple[int, float]:
    """(transactions, seconds they took) of one TPC-B run: 8 clients, 2 threads."""
    done = subprocess.run(  # noqa: S603 - infra found this pgbench; our arguments
        [pgbench, "-n", "-c", str(CONCURRENCY), "-j", "2", "-T", str(seconds), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )  # fmt: skip
    tps, count = _TPS.search(done.stdout), _DONE.search(done.stdout)
    if tps is None or count is None:
        raise SystemExit(f"pgbench printed no tps:\n{done.stdout}\n{done.stderr}")
    transactions = int(count.group(1))
    return transactions, transactions / float(tps.group(1))


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    spent: float = 0.0


async def _complete_for(http: httpx.AsyncClient, world: World, load: Load, seconds: float) -> None:
    """Completions at CONCURRENCY for `seconds` (or until the booked sessions run out)."""
    stop = time.perf_counter() + seconds
    headers = dict(http.headers) | {"Content-Type": "application/json"}

    async def worker() -> None:
        while world.sessions and time.perf_counter() < stop:
            session = world.sessions.popleft()
            began = time.perf_counter()
            response = await http.post(
                f"/therapy-sessions/{session}/complete",
                content=BODY,
                headers=headers | {"Idempotency-Key": f"bench-{session}"},
            )
            if response.status_code != 200 or response.json()["claim_id"] is None:
                raise SystemExit(f"complete: {response.status_code} {response.text[:500]}")
            load.latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    load.spent += time.perf_counter() - began


async def _sign_in(http: httpx.AsyncClient, world: World) -> None:
    """Maya signs in and checks each member's benefits (stored: completion prices from it)."""
    login = await http.post(
        "/auth/login", json={"email": PROVIDER_EMAIL, "password": DEMO_PASSWORD}
    )
    login.raise_for_status()
    http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    for policy in world.policies:
        check = await http.post("/benefit-checks", json={"policy_id": policy, "refresh": True})
        if check.status_code != 201 or check.json()["status"] != "active":
            raise SystemExit(f"POST /benefit-checks: {check.status_code} {check.text[:500]}")


@dataclass
class Cpu:
    """CPU of the completions' turns only (ms): the API, the database's backends, this process."""

    api_pid: int
    backends: list[int]
    spent: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def sample(self) -> tuple[float, float, float]:
        return cpu_ms([self.api_pid]), cpu_ms(self.backends), time.process_time() * 1000

    def add_since(self, mark: tuple[float, float, float]) -> None:
        for n, (now, then) in enumerate(zip(self.sample(), mark, strict=True)):
            self.spent[n] += now - then


async def _measure(api: Served, world: World, seconds: float) -> None:
    pgbench = os.environ.get("BENCH_PGBENCH")
    pgbench_url = os.environ.get("BENCH_PGBENCH_DATABASE_URL")
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=api.url, limits=limits, timeout=30) as http:
        await _sign_in(http, world)
        await _complete_for(http, world, Load(), 0.2)  # warm every connection, both sides
        rounds = max(1, round(seconds / ROUND_S))
        load, baseline = Load(), [0.0, 0.0]
        backends, before = await _database_stats(api.database_url)
        cpu = Cpu(api.pid, backends)
        for _ in range(rounds):
            mark = cpu.sample()
            await _complete_for(http, world, load, seconds / rounds)
            cpu.add_since(mark)
            if pgbench and pgbench_url:
                done, took = _pgbench(pgbench, pgbench_url, max(1, round(seconds / rounds)))
                baseline[0] += done
                baseline[1] += took
            if not world.sessions:
                print("bench session_completion: the booked sessions ran out", file=sys.stderr)
                break
        _, after = await _database_stats(api.database_url)
    tps = baseline[0] / baseline[1] if baseline[1] else None
    _report(load, tps, cpu, [a - b for a, b in zip(after, before, strict=True)])


def _report(load: Load, tps: float | None, cpu: Cpu, database: list[int]) -> None:
    n = len(load.latencies)
    per_s = n / load.spent
    line = f"bench session_completion completions_per_s={per_s:.0f}"
    line += f" p99_ms={percentile(load.latencies, 0.99):.1f}"
    if tps is not None:
        line += f" pgbench_tps={tps:.0f} ratio={per_s / tps:.3f}"
    else:
        print(
            "bench session_completion: no pgbench (neither the machine's"
            f" {MACHINE_PGBENCH_HINT} nor the embedded server's): no baseline, no ratio",
            file=sys.stderr,
        )
    print(line)
    api, postgres, loadgen = (ms / n for ms in cpu.spent)
    commits, rows, scans = (count / n for count in database)
    print(
        f"bench session_completion_profile completions={n} concurrency={CONCURRENCY}"
        f" p50_ms={statistics.median(load.latencies):.1f} cpu_ms_api={api:.2f}"
        f" cpu_ms_postgres={postgres:.2f} cpu_ms_loadgen={loadgen:.2f}"
        f" commits={commits:.1f} rows_written={rows:.1f} index_scans={scans:.1f}"
    )


def main() -> None:
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1")) * 3
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve("session_completion", LIMITS, Path(tmp)) as api,
    ):
        world = asyncio.run(_book(api.database_url, max(200, round(POOL_PER_S * seconds))))
        asyncio.run(_measure(api, world, seconds))


if __name__ == "__main__":
    main()
