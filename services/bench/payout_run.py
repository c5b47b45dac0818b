"""`bench payout_run`: a whole weekly payout run against the Stripe simulator, beside the bare
SQL aggregate over the same ledger.

The world (infra gives a fresh database; migrated here, the demo world loaded as of AS_OF):
HEARTH_BENCH_PAYOUT_PROVIDERS (10,000) providers, each with a Connect account made in the
simulator (payouts enabled) and its payout_accounts row, and HEARTH_BENCH_PAYOUT_SESSIONS
(500,000) completed sessions' entries (Cr provider_payable / Dr platform_revenue, as the tests'
worlds post a completion), all past the 48-hour edit window at the run's cutoff, spread evenly
over the providers; one provider in RECOUPED also owes a recoupment (Dr provider_payable,
Cr claim_losses) netted by the run. Written by INSERT ... SELECT generate_series in CHUNK
sessions a transaction (the ledger's triggers and COMMIT checks run for them); the platform's
balance funded by one top-up. Setting up is timed apart (`setup_seconds`).

Measured, one after the other:
- the bare SQL aggregate (`sql_aggregate`, `sql_seconds`): each provider's provider_payable
  due at the cutoff by the run's own rule (a session's entries once its completion is older
  than the edit window, every other entry once made by the cutoff), one statement, best of
  SQL_TURNS; it reads what the freeze reads and writes nothing;
- the freeze (`run_seconds`, `run_ms` a provider): `run_payouts` for the Monday before AS_OF,
  as the daily cron calls it: every due provider's payout frozen (the row, its lines, its
  journal entry, the audit row) and a transfer_payouts outbox row per batch. It calls no one:
  all of it is our SQL and Python;
- the transfers (`transfer_seconds`): the transfer_payouts job's body for each of those outbox
  rows, one job at a time as one worker runs them (within a job, up to 8 Stripe calls at
  once: transfer_batches.CONCURRENCY). The ConnectGateway is timed: `stripe_seconds` is the
  wall time during which at least one Stripe call was in flight (the SDK's own work on a
  request and its answer, in this process, is inside it, as is the simulator's),
  `stripe_calls` how many calls were made;
  `transfer_ms` is the rest of the phase (claims, records, commits) a payout.

`seconds` is the whole run's wall time (freeze and transfers). Our own work is that less
`stripe_seconds`: `per_provider_ms` is it per provider, `ratio` it over `sql_seconds`. The
bench fails when a bench provider is not paid exactly what the aggregate says, a payout is not
paid, or the ledger does not balance. `load` is the 1-minute load average when the line is
printed (the machine is shared).

Measured on the shared 2-core development machine (December 2026, the default size):
- before (a transfer_payout job a payout, three transactions each; the freeze's lines through
  Python and three foreign keys a line), load 4.8-8.6: seconds 578.7, per_provider_ms 22.5,
  ratio 24.9 (then the freeze alone over the aggregate; our own work over it, as now: 100.8),
  run 55.4 s, transfers' own work 16.9 ms a payout;
- after (load 2.4-4.6 at the line): seconds 52.7-122.2 (the simulator's share varies most),
  per_provider_ms 1.09-1.13, ratio 8.2-8.4: the freeze 7.0-8.2 s (0.70-0.82 ms a provider),
  the transfers' own work 0.27-0.43 ms a payout; under load 8, 2.86 and 9.2. What is left of
  the freeze: the payout lines' INSERT (a row per session, ~5 us each with its two index
  entries), reading the providers' entries by account, and the payout_frozen journal entries
  (the ledger's per-row triggers and its balance check at COMMIT); of the transfers: the
  payout_transferred entries likewise. The bare aggregate writes none of it, so 3x of it is
  out of reach while a payout keeps a statement line per session and a journal entry per
  payout and transfer; 1 ms a provider is within reach of a quiet machine, not met here.
- second round (a journal line's entry checked as its transaction's once a statement, not once
  a row: 0054; BATCH 500), at full size, one run each: BATCH 200 0.745 ms a provider frozen,
  0.260 transferring, 1.006 own, ratio 7.39 (load 2.0); BATCH 500 0.670, 0.219, 0.889, ratio
  7.16 (load 2.0); main again 0.921, 0.337, 1.258, ratio 6.46 (load 3.2), and this branch
  0.838, 0.297, 1.136, ratio 7.33 (load 4.3): the aggregate slows with the load as much as
  the run, so ratio moves little. Profiled at 2,000 providers (EXPLAIN ANALYZE, a batch of
  200, 10,000 lines): ~60 % of the freeze statement reads (each line's heap page, its entry
  by key, ~6 us a line), ~30 % writes the payout lines (~3 us a line, both index entries);
  the payout_frozen entries' INSERT ~12 ms a batch (their foreign keys ~3 ms, the per-row
  same-transaction check 2.4 ms, now 0.5) and their deferred balance checks ~5 ms at COMMIT.
- third round (0056; two batches frozen at once), 2026-12-05 06:27 UTC, load 1.2: seconds
  101.3 (the simulator slower than on 04:57's run: 96.1 s of Stripe calls), per_provider_ms
  0.527, run 3.11 s (0.311 ms a provider), transfers' own work 0.217 ms a payout, aggregate
  1.532 s, ratio 3.44 (main before it, 05:55, load 1.2: ratio 7.10, aggregate 1.468 s). What
  did it, each measured alone (auto_explain's statement times, the freeze at 10,000
  providers): the freeze statement compiled by JIT (~60 ms a 500-provider batch: off); its
  plan scanning all payout lines for each batch once the run had grown the table past its
  statistics (a provider's lines and payout lines now read LATERAL, sequential scans off);
  each line's heap page and entry's heap page (both read from their indexes now: the account
  index ordered by entry and holding it, the entries' key holding kind, source and date); the
  entry key's CHECK '^[!-~]{1,200}$' (~35 us an entry on every posting: PostgreSQL compiles the
  bounded repeat into a large automaton; now a length check and '^[!-~]+$'); the journal
  lines' two foreign keys (~24 us a line: once a statement now); payout lines half as wide,
  with one index instead of two. Alone, the freeze is now 5.9 s on one connection (3.8x the
  aggregate in wall and CPU time) and 2.9-3.2 s on two (FREEZE_CONCURRENCY, the daily job's:
  the database's two cores; three gave nothing more). What is left, a 500-provider batch on
  one connection (~295 ms): reading the lines and their entries ~65 ms, the completion times
  and grouping ~20 ms, writing 25,000 payout lines ~55 ms and checking their entries exist
  ~25 ms, the payouts ~13 ms, the payout_frozen entries ~20 ms and their balance checks
  ~10 ms; of the transfers' ~100 ms a batch, ~50 ms is SQL (two updates of 500 payouts with
  seven indexes each ~20 ms, the entries ~15 ms, notices and audit ~10 ms), ~25 ms Python
  (building entries and rows), the rest two COMMITs' WAL flushes.
- fourth round (0058, ledger.post_pairs), alone at load 1.2-1.4, 2026-12-05 09:20 UTC: seconds
  55.4-56.1, per_provider_ms 0.342-0.345, run 2.14-2.19 s (0.21 ms a provider), transfers' own
  work 0.126-0.128 ms a payout, aggregate 1.350-1.354 s, ratio 2.53-2.56 (main before it,
  08:30 UTC, the same way: ratio 3.47, own work 4.51 s against 3.4 now). What did it, each
  measured alone: a journal line's balance check queued only once its entry was checked early
  (the entry's own check at COMMIT already sums every line: the freeze's COMMITs 0.27 -> 0.13 s
  on one connection); the transfer job's claim an in-place update (HOT: 9.7 -> 4.7 ms a batch);
  a completion line dated by itself (one completion entry a session is now the database's
  rule) instead of every session line sorted and grouped for its session's first completion
  (~10 ms a batch); post_pairs, no EntryIn built, validated and encoded a payout (freeze and
  transfers ~0.1 s each); each line's entry joined inside the account's LATERAL (the planner's
  cache before the entries' key never hit: ~6 % of the statement); the record reading back
  four columns, not the whole row (~5 ms a batch). What is left, a 500-provider batch on one
  connection (the statement ~145 ms): writing 25,000 payout lines ~50 ms and checking that
  their entries and payouts exist ~23 ms, reading the lines and their entries ~40 ms,
  grouping them by entry ~20 ms; a transfer batch ~65 ms: the paid update ~10 ms (not in
  place: the transfer id is indexed), the entries ~10, the notices ~6, locks and claim ~10,
  the audit ~3, two COMMITs ~6, Python ~15.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from services.bench.served import AS_OF, database_world, stripe_simulator
from services.core import clock
from services.core.db import create_pool, transaction
from services.core.settings import load_settings
from services.core.transactions import Transactions
from services.ledger.service import get_or_create_accounts, get_trial_balance, post_entries
from services.payments.gateway import StripeGateway
from services.payouts.connect import ConnectGateway, Transfer
from services.payouts.runs import FREEZE_CONCURRENCY, RunRules, run_payouts
from services.payouts.schedules import cutoff_of
from services.payouts.transfer_batches import transfer_payouts

BASELINE = "sql_aggregate"
RULES = RunRules(edit_window_hours=48, minimum_cents=100)
CHUNK = 50_000  # sessions' entries a setup transaction
ACCOUNT_CONCURRENCY = 16
POOL_SIZE = 5  # the worker's pool (workers/settings.py)
RECOUPED = 50  # one provider in 50 owes a recoupment
RECOUPMENT_CENTS = 3_000
SQL_TURNS = 3
TOP_UP_CENTS = 99_999_999  # Stripe's largest amount
T = TypeVar("T")


def log(text: str) -> None:
    print(f"payout_run: {text}", file=sys.stderr, flush=True)


def run_date() -> date:
    """The Monday before AS_OF: every provider's default schedule (weekly, Monday) is due."""
    day = AS_OF.date()
    return day - timedelta(days=(day.isoweekday() - 1) or 7)


class TimedGateway(ConnectGateway):
    """The Connect gateway, timing its Stripe calls: `seconds` is the wall time during which
    at least one call is in flight (calls overlap: a batch makes CONCURRENCY at once), `calls`
    how many were made."""

    def __init__(self, inner: ConnectGateway) -> None:
        super().__init__(inner.client)
        self.seconds = 0.0
        self.calls = 0
        self._in_flight = 0
        self._since = 0.0

    async def _timed(self, call: Awaitable[T]) -> T:
        if self._in_flight == 0:
            self._since = time.perf_counter()
        self._in_flight += 1
        try:
            return await call
        finally:
            self._in_flight -= 1
            self.calls += 1
            if self._in_flight == 0:
                self.seconds += time.perf_counter() - self._since

    async def available_usd(self) -> int:
        return await self._timed(super().available_usd())

    async def create_transfer(self, **kwargs: Any) -> Transfer:
        return await self._timed(super().create_transfer(**kwargs))

    async def get_transfer(self, transfer_id: str) -> Transfer:
        return await self._timed(super().get_transfer(transfer_id))

    async def find_transfer(self, group: str, destination: str | None) -> Transfer | None:
        return await self._timed(super().find_transfer(group, destination))


async def _accounts(connect: ConnectGateway, providers: list[uuid.UUID]) -> list[str]:
    """A Connect account in the simulator for each provider, ACCOUNT_CONCURRENCY at a time."""
    made: list[str] = [""] * len(providers)
    nexts = iter(range(len(providers)))

    async def worker() -> None:
        for n in nexts:
            account = await connect.create_account(
                key=f"account-{providers[n]}-a1", provider_id=providers[n]
            )
            made[n] = account.id

    await asyncio.gather(*(worker() for _ in range(ACCOUNT_CONCURRENCY)))
    return made


_PROVIDERS = """
WITH w AS (
    SELECT p.id, p.n FROM unnest($1::uuid[]) WITH ORDINALITY AS p (id, n)
), u AS (
    INSERT INTO users (email, role)
    SELECT 'bench-provider-' || n || '@example.test', 'provider' FROM w ORDER BY n
    RETURNING id, email
)
INSERT INTO providers (id, user_id, first_name, last_name, npi, taxonomy_code, tax_id_encrypted,
                       tax_id_key_id, tax_id_last4)
SELECT w.id, u.id, 'Bench', 'Provider ' || w.n, '2' || lpad((900000000 + w.n)::text, 9, '0'),
       '101YM0800X', '\\x00'::bytea, 'bench', '0000'
FROM w JOIN u ON u.email = 'bench-provider-' || w.n || '@example.test'
"""
_PAYOUT_ACCOUNTS = """
INSERT INTO payout_accounts (provider_id, stripe_account_id, called_at, charges_enabled,
                             payouts_enabled, details_submitted, synced_at, created_at,
                             updated_at)
SELECT w.id, w.account, $3, true, true, true, $3, $3, $3
FROM unnest($1::uuid[], $2::text[]) AS w (id, account)
"""

# Session g belongs to provider g % providers; completed 3 to 23 days before the cutoff. Its
# id (and so its entry's key) rises with g: the indexes fill page by page, as over time.
_SESSIONS = """
WITH src AS (
    SELECT g, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS session_id,
           $5::timestamptz - interval '72 hours' - (g % 20) * interval '1 day' AS at,
           8000 + (g % 7) * 250 AS cents, g % $3 AS p
    FROM generate_series($1::bigint, $2::bigint - 1) AS g
), e AS (
    INSERT INTO journal_entries (kind, idempotency_key, occurred_at, memo, source_table,
                                 source_id, created_xact)
    SELECT 'completion', 'completion-' || session_id, at, '', 'therapy_sessions', session_id,
           pg_current_xact_id()
    FROM src ORDER BY g
    RETURNING id, source_id
)
INSERT INTO journal_lines (entry_id, account_id, side, amount_cents)
SELECT e.id, x.account_id, x.side, src.cents
FROM e JOIN src ON src.session_id = e.source_id
CROSS JOIN LATERAL (VALUES (($4::bigint[])[src.p + 1], 'credit'), ($6::bigint, 'debit'))
    AS x (account_id, side)
"""


@dataclass
class World:
    providers: list[uuid.UUID]
    sessions: int
    setup_s: float = 0.0


async def _world(pool: asyncpg.Pool, connect: ConnectGateway, world: World) -> None:
    """The providers, their accounts, their sessions' entries, a few recoupments, the funds."""
    began = time.perf_counter()
    # The simulator makes the Connect accounts while the database takes the entries.
    accounts = asyncio.create_task(_accounts(connect, world.providers))
    cutoff = cutoff_of(run_date())
    payable = [AccountRef(kind="provider_payable", owner_id=p) for p in world.providers]
    revenue = AccountRef(kind="platform_revenue")
    async with transaction(pool) as conn:
        await conn.execute(_PROVIDERS, world.providers)
        ids = await get_or_create_accounts(conn, [*payable, revenue])
    for first in range(0, world.sessions, CHUNK):
        async with transaction(pool) as conn:
            # Balanced by construction (checked again by the trial balance after the run): the
            # ledger's per-row triggers and foreign-key checks would take minutes here.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                _SESSIONS, first, min(first + CHUNK, world.sessions), len(world.providers),
                [ids[a] for a in payable], cutoff, ids[revenue],
            )  # fmt: skip
    log(f"sessions' entries: {time.perf_counter() - began:.1f} s")
    async with transaction(pool) as conn:
        await conn.execute(_PAYOUT_ACCOUNTS, world.providers, await accounts, clock.now())
    log(f"Connect accounts: {time.perf_counter() - began:.1f} s")
    recouped = world.providers[::RECOUPED]
    async with transaction(pool) as conn:
        await post_entries(conn, [
            EntryIn(kind="recoupment", idempotency_key=f"recoupment-bench-{p}",
                    source_table="remitted_claims", source_id=uuid.uuid5(p, "recoupment"),
                    occurred_at=cutoff - timedelta(hours=24), memo="denied after payment",
                    lines=(Line(account=AccountRef(kind="provider_payable", owner_id=p),
                                side="debit", amount_cents=RECOUPMENT_CENTS),
                           Line(account=AccountRef(kind="claim_losses"), side="credit",
                                amount_cents=RECOUPMENT_CENTS)))
            for p in recouped
        ])  # fmt: skip
        owed = await conn.fetchval(
            "SELECT sum(CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END)"
            " FROM ledger_accounts a JOIN journal_lines l ON l.account_id = a.id"
            " WHERE a.kind = 'provider_payable'"
        )
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE")
    for _ in range(0, int(owed) + 1_000_000, TOP_UP_CENTS):
        await connect.client.v1.topups.create_async(
            params={"amount": TOP_UP_CENTS, "currency": "usd"}
        )
    world.setup_s = time.perf_counter() - began
    log(f"set up: {world.setup_s:.1f} s")


# Each provider's provider_payable due at the cutoff, the run's rule (queries/runs._UNCOVERED,
# ledger_reads._DUE) with nothing else: no lines read out, nothing written.
_AGGREGATE = """
WITH mine AS (
    SELECT a.owner_id, e.kind, e.source_table, e.source_id, e.occurred_at,
           CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END AS net
    FROM ledger_accounts a
    JOIN journal_lines l ON l.account_id = a.id
    JOIN journal_entries e ON e.id = l.entry_id
    WHERE a.kind = 'provider_payable' AND e.kind <> 'payout_frozen'
), completed AS (
    SELECT source_id, min(occurred_at) AS confirmed_at FROM mine
    WHERE source_table = 'therapy_sessions' AND kind = 'completion'
    GROUP BY source_id
)
SELECT m.owner_id, sum(m.net)::bigint AS due
FROM mine m LEFT JOIN completed c ON c.source_id = m.source_id
WHERE CASE WHEN m.source_table = 'therapy_sessions' THEN c.confirmed_at <= $2
           ELSE m.occurred_at <= $1 END
GROUP BY m.owner_id
"""


@dataclass
class Measured:
    sql_s: float = float("inf")
    run_s: float = 0.0
    transfer_s: float = 0.0
    stripe_s: float = 0.0
    stripe_calls: int = 0
    created: int = 0
    due: dict[uuid.UUID, int] = field(default_factory=dict)


async def _timed(call: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    began = time.perf_counter()
    out = await call()
    return time.perf_counter() - began, out


async def _check(conn: asyncpg.Connection, world: World, measured: Measured) -> None:
    """Each bench provider paid once, exactly what the aggregate said; the ledger balanced."""
    rows = await conn.fetch(
        "SELECT provider_id, amount_cents, status FROM payouts WHERE provider_id = ANY($1)",
        world.providers,
    )
    paid = {r["provider_id"]: r["amount_cents"] for r in rows if r["status"] == "paid"}
    wanted = {p: measured.due[p] for p in world.providers}
    if len(rows) != len(world.providers) or paid != wanted:
        raise SystemExit(f"{len(paid)} of {len(world.providers)} providers paid what they are owed")
    if (await get_trial_balance(conn)).imbalance_cents != 0:
        raise SystemExit("the ledger does not balance after the payout run")


async def _measure(pool: asyncpg.Pool, connect: ConnectGateway, world: World) -> Measured:
    measured = Measured()
    cutoff = cutoff_of(run_date())
    window_end = cutoff - timedelta(hours=RULES.edit_window_hours)
    async with pool.acquire() as conn:
        for _ in range(SQL_TURNS):
            seconds, rows = await _timed(lambda: conn.fetch(_AGGREGATE, cutoff, window_end))
            measured.sql_s = min(measured.sql_s, seconds)
    measured.due = {r["owner_id"]: r["due"] for r in rows}
    tx = Transactions(lambda: pool.acquire())
    measured.run_s, tally = await _timed(
        lambda: run_payouts(tx, RULES, run_date(), concurrency=FREEZE_CONCURRENCY)
    )
    measured.created = tally.created
    log(f"aggregate {measured.sql_s:.3f} s, run {measured.run_s:.2f} s ({tally})")
    async with pool.acquire() as conn:
        batches = await conn.fetch(
            "SELECT id, jsonb_array_length(payload -> 'payout_ids') AS n FROM outbox"
            " WHERE job = 'transfer_payouts' AND completed_at IS NULL ORDER BY id"
        )
    timed = TimedGateway(connect)
    began = time.perf_counter()
    for batch in batches:
        if (outcome := await transfer_payouts(tx, timed, batch["id"])) != f"paid {batch['n']}":
            raise SystemExit(f"transfer_payouts {batch['id']}: {outcome}")
    measured.transfer_s = time.perf_counter() - began
    measured.stripe_s = timed.seconds
    measured.stripe_calls = timed.calls
    async with transaction(pool) as conn:
        await _check(conn, world, measured)
    return measured


async def _run(env: dict[str, str], world: World) -> Measured:
    settings = load_settings(env)
    gateway = StripeGateway.from_settings(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=POOL_SIZE)
    try:
        connect = ConnectGateway.of(gateway)
        await _world(pool, connect, world)
        return await _measure(pool, connect, world)
    finally:
        await pool.close()
        await gateway.aclose()


def main() -> None:
    providers = int(os.environ.get("HEARTH_BENCH_PAYOUT_PROVIDERS", "10000"))
    sessions = int(os.environ.get("HEARTH_BENCH_PAYOUT_SESSIONS", str(providers * 50)))
    world = World(providers=sorted(uuid.uuid4() for _ in range(providers)), sessions=sessions)
    env = database_world("payout_run")
    with tempfile.TemporaryDirectory() as tmp, stripe_simulator(env, Path(tmp)) as url:
        m = asyncio.run(_run({**env, "HEARTH_STRIPE_API_BASE": url}, world))
    whole = m.run_s + m.transfer_s
    own = whole - m.stripe_s
    print(
        f"bench payout_run providers={providers} sessions={sessions} seconds={whole:.2f}"
        f" per_provider_ms={own * 1000 / providers:.3f}"
        f" sql_seconds={m.sql_s:.3f} ratio={own / m.sql_s:.2f} run_seconds={m.run_s:.2f}"
        f" run_ms={m.run_s * 1000 / providers:.3f} transfer_seconds={m.transfer_s:.2f}"
        f" stripe_seconds={m.stripe_s:.2f}"
        f" transfer_ms={(m.transfer_s - m.stripe_s) * 1000 / providers:.3f}"
        f" payouts={m.created} stripe_calls={m.stripe_calls}"
        f" setup_seconds={world.setup_s:.1f} load={os.getloadavg()[0]:.2f}"
    )
    print(f"bench payout_run_baseline name={BASELINE} sql_seconds={m.sql_s:.3f}")


if __name__ == "__main__":
    main()
