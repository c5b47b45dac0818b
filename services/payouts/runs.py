"""The payout run (DESIGN.md "Payouts"; issue 18 items 3 and 5): which providers are due on a
date, their payouts frozen, and what ops read and re-run.

Each due provider's payout is written once, with the row (UNIQUE per provider and cutoff), its
lines (each provider_payable entry it covers, UNIQUE per entry), the entry Dr provider_payable /
Cr payouts_in_transit and its transfer's outbox row in one transaction; BATCH providers share a
transaction (one COMMIT, one statement of each kind for all of them: one transaction a
provider spent most of a 10,000-provider run waiting for its COMMIT), the rows and lines one
INSERT ... SELECT, and one transfer_payouts job sends the batch's payouts. Two runs at once
serialize on the provider (an advisory lock each, taken in one order), so the second finds the
period paid. A provider
owed less than the minimum (or nothing, once recoupments exceed their sessions) gets no payout:
what they are owed stays in the ledger for the next one. One with an open hold is skipped; one
with no Connect account that can be paid gets a held payout (no_payout_account) that ops see
and the run sends once the account can be paid.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from schemas.ledger import Pair
from schemas.payout_runs import (
    PayoutDetailOut,
    PayoutOut,
    PayoutRow,
    PayoutRunIn,
    PayoutRunOut,
    PayoutStatus,
    TransferPayoutJob,
    TransferPayoutsJob,
)
from schemas.payouts import PayoutScheduleRow
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM, Actor
from services.core.pagination import Page, page_of
from services.core.scope import owner_scope
from services.core.transactions import Transactions
from services.ledger.service import post_pairs
from services.payouts.errors import BadPayoutRun, PayoutNotFound, PayoutNotRetryable
from services.payouts.queries import runs as q
from services.payouts.queries import transfers as qt
from services.payouts.schedules import DEFAULT, cutoff_of, next_payout_date
from services.providers import service as providers

log = logging.getLogger(__name__)

ENTITY = "payout"
# Providers frozen a transaction: each transaction's COMMIT (a WAL flush) and statements are
# shared by this many (their advisory locks are held until it ends), as is a transfer_payouts
# job's claim and record. 500 against 200, the bench at full size: the freeze 0.67 against
# 0.75 ms a provider, the transfers' own work 0.22 against 0.26; a job's 500 Stripe calls,
# CONCURRENCY at a time, fit its CALL_BUDGET at live latencies (~0.3 s a call: ~19 s).
BATCH = 500
# Batches the daily job freezes at once, each on its own connection: the freeze is the
# database's work (reading each provider's ledger lines, writing a line a session), so two
# use two of its cores. Their providers are disjoint, and each batch takes its providers'
# locks in one global order, as a second run's batches do.
FREEZE_CONCURRENCY = 2


@dataclass(frozen=True)
class RunRules:
    edit_window_hours: int
    minimum_cents: int


@dataclass
class RunTally:
    due: int = 0
    created: int = 0
    held: int = 0
    below_minimum: int = 0
    on_hold: int = 0
    existing: int = 0
    requeued: int = 0


def _due(record: asyncpg.Record, run_date: date) -> bool:
    if record["kind"] is None:
        schedule = DEFAULT
    else:
        schedule = PayoutScheduleRow(
            id=None, kind=record["kind"], anchor_weekday=record["anchor_weekday"],
            anchor_date=record["anchor_date"], reason=None, changed_by=None, created_at=None,
        )  # fmt: skip
    return next_payout_date(schedule, run_date) == run_date


async def enqueue(conn: asyncpg.Connection, payout_id: uuid.UUID) -> None:
    await outbox.add(conn, TransferPayoutJob(payout_id=payout_id), dedupe_key=f"payout-{payout_id}")


async def freeze_payouts(
    conn: asyncpg.Connection, provider_ids: list[uuid.UUID], run_date: date, rules: RunRules,
    cutoff: datetime | None = None,
) -> list[str]:  # fmt: skip
    """Each provider's payout for `run_date` (its cutoff: the day's start, or the instant ops
    ran it now), frozen once (created | held | existing | below_minimum, in the order given);
    in one transaction, so many providers share its statements and its COMMIT."""
    cutoff = cutoff or cutoff_of(run_date)
    # The freeze's plan is fixed here, not left to statistics the run itself outdates: it
    # grows payout_lines by a line a session, and with the table's statistics from before the
    # run (empty, the first time) the planner scanned all of it for each provider. Without
    # sequential scans each provider's payout lines are read through their key. JIT: the
    # estimated cost passes jit_above_cost, and compiling took ~60 ms of a 500-provider
    # batch's ~400 (measured), more than it could ever save on this statement.
    await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
    await q.lock_provider_runs(conn, provider_ids)
    window_end = cutoff - timedelta(hours=rules.edit_window_hours)
    now = clock.now()
    minimum = max(rules.minimum_cents, 1)
    frozen = await q.insert_frozen_payouts(conn, provider_ids, cutoff, window_end, run_date,
                                           minimum, now)  # fmt: skip
    made = {p: f for p, f in frozen.items() if f.payout_id is not None}
    outcome = {p: "held" if f.hold_reason else "created" for p, f in made.items()}
    for p in provider_ids:
        if p not in made:
            # Owed the minimum but none made: this cutoff's payout was made before.
            owed = p in frozen and frozen[p].amount_cents >= minimum
            outcome[p] = "existing" if owed else "below_minimum"
    if below := [p for p in provider_ids if outcome[p] == "below_minimum"]:
        for p in await q.list_paid_periods(conn, below, cutoff):
            outcome[p] = "existing"
    if made:
        ids = {p: f.payout_id for p, f in made.items() if f.payout_id is not None}
        await post_pairs(conn, "payout_frozen", ("provider_payable", "payouts_in_transit"),
                         ("payouts", f"payout for {run_date.isoformat()} frozen"), now,
                         [Pair(source_id=ids[p], amount_cents=made[p].amount_cents, debit_owner=p)
                          for p in ids])  # fmt: skip
        if sendable := [ids[p] for p in ids if made[p].hold_reason is None]:
            await outbox.add(conn, TransferPayoutsJob(payout_ids=sendable),
                             dedupe_key=f"payouts-{sendable[0]}")  # fmt: skip
        await audit.record(conn, SYSTEM, "create", ENTITY, list(ids.values()))
    return [outcome[p] for p in provider_ids]


async def requeue_held(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> int:
    """Held payouts sent again (the transfer job re-checks whatever held them)."""
    requeued = await q.update_requeued(conn, ids, clock.now()) if ids else []
    for payout_id in requeued:
        await enqueue(conn, payout_id)
    if requeued:
        await audit.record(conn, SYSTEM, "update", ENTITY, requeued)
    return len(requeued)


async def on_funds_added(conn: asyncpg.Connection) -> int:
    """A top-up succeeded: the payouts held for want of funds are tried again."""
    return await requeue_held(conn, await q.list_held_for_funds(conn))


async def run_payouts(
    tx: Transactions, rules: RunRules, run_date: date, provider_id: uuid.UUID | None = None,
    cutoff: datetime | None = None, concurrency: int = 1,
) -> RunTally:  # fmt: skip
    """Every provider due on `run_date` (or this one provider, whatever their schedule) paid
    once for that period; held payouts whose reason may have passed sent again. Up to
    `concurrency` batches are frozen at once, each in its own transaction (so `tx` must lend a
    connection a transaction: the daily job's pool, not a request's one connection)."""
    tally = RunTally()
    async with tx() as conn:
        tally.requeued = await requeue_held(conn, await q.list_requeueable(conn))
        candidates = await q.list_candidates(conn, provider_id)
    batch: list[uuid.UUID] = []
    for record in candidates:
        if provider_id is None and not _due(record, run_date):
            continue
        tally.due += 1
        if record["held"]:
            tally.on_hold += 1
            continue
        batch.append(record["provider_id"])
    limit = asyncio.Semaphore(concurrency)

    async def freeze(chunk: list[uuid.UUID]) -> list[str]:
        async with limit, tx() as conn:
            return await freeze_payouts(conn, chunk, run_date, rules, cutoff)

    # A batch failing cancels the others (each rolls back); a run again freezes what is left.
    async with asyncio.TaskGroup() as group:
        frozen = [group.create_task(freeze(batch[first : first + BATCH]))
                  for first in range(0, len(batch), BATCH)]  # fmt: skip
    for task in frozen:
        for outcome in task.result():
            setattr(tally, outcome, getattr(tally, outcome) + 1)
    async with tx() as conn:
        await q.upsert_run(conn, run_date, tally.due, tally.below_minimum, clock.now())
    log.info("payout run", extra={"job": "run_payouts", "count": tally.created + tally.held})
    return tally


async def list_due(
    conn: asyncpg.Connection, run_date: date, provider_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """The providers a run of `run_date` freezes (due, no open hold; this one provider:
    whatever their schedule), as run_payouts picks them."""
    return [r["provider_id"] for r in await q.list_candidates(conn, provider_id)
            if (provider_id is not None or _due(r, run_date)) and not r["held"]]  # fmt: skip


def check_run(data: PayoutRunIn) -> None:
    if data.run_date > clock.today():
        raise BadPayoutRun("a payout run's date is today or earlier", field="run_date")


async def run_payouts_now(
    conn: asyncpg.Connection, actor: Actor, data: PayoutRunIn, rules: RunRules
) -> PayoutRunOut:
    """Ops' "run now" for a date (today or before), within one transaction (run_now: the
    accounts re-read before it). Today's takes everything due at this instant (its cutoff:
    now), so a second "run now" later in the day pays what became due since, once; an
    earlier date's cutoff is that day's start."""
    check_run(data)
    if data.provider_id is not None:
        await providers.require_provider(conn, actor, data.provider_id)
    cutoff = clock.now() if data.run_date == clock.today() else None
    await run_payouts(Transactions.within(conn), rules, data.run_date, data.provider_id, cutoff)
    found = await q.get_run(conn, data.run_date)
    assert found is not None  # the run just wrote it
    await audit.record(conn, actor, "create", "payout_run", [found.id])
    return found


async def list_runs(conn: asyncpg.Connection, limit: int, cursor: str | None) -> Page[PayoutRunOut]:
    return await page_of(lambda after, n: q.list_runs(conn, after, n), cursor, limit)


def _out(row: PayoutRow) -> PayoutOut:
    fields = {f: getattr(row, f) for f in PayoutOut.__struct_fields__}
    return PayoutOut(**fields)


async def list_payouts(
    conn: asyncpg.Connection, actor: Actor,
    filters: tuple[PayoutStatus | None, uuid.UUID | None, date | None],
    limit: int, cursor: str | None,
) -> Page[PayoutOut]:  # fmt: skip
    """Payouts newest first (a provider's: only their own, read through require_provider)."""
    if filters[1] is not None:
        await providers.require_provider(conn, actor, filters[1])
    page = await page_of(lambda after, n: q.list_payouts(conn, filters, after, n), cursor, limit)
    if page.items:
        await audit.record(conn, actor, "read", ENTITY, [p.id for p in page.items])
    return page.map(_out)


async def get_payout(
    conn: asyncpg.Connection, actor: Actor, payout_id: uuid.UUID
) -> PayoutDetailOut:
    """The payout with its statement lines (ops; a provider only their own)."""
    row = await q.get_payout(conn, payout_id, owner_scope(actor).provider_id)
    if row is None:
        raise PayoutNotFound("payout not found")
    await audit.record(conn, actor, "read", ENTITY, [payout_id])
    return PayoutDetailOut(payout=_out(row), lines=await q.list_lines(conn, payout_id))


async def retry_payout(
    conn: asyncpg.Connection, actor: Actor, payout_id: uuid.UUID
) -> PayoutDetailOut:
    """A held or failed payout sent again (audited); its amount stays as frozen."""
    row = await q.lock_payout(conn, payout_id)
    if row is None:
        raise PayoutNotFound("payout not found")
    if row.status not in ("held", "failed"):
        raise PayoutNotRetryable(f"a {row.status} payout is not re-run", field="payout_id")
    await q.update_payout(conn, payout_id, "pending", now=clock.now())
    await qt.update_counts_cleared(conn, payout_id)
    await enqueue(conn, payout_id)
    await audit.record(conn, actor, "update", ENTITY, [payout_id])
    return await get_payout(conn, actor, payout_id)
