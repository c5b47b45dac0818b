"""The transfer_payouts job: a freeze batch's payouts sent to Stripe together, each exactly
once (DESIGN.md "Payouts", "Stripe calls, exactly once"); the run's normal path.

transfer_payout's three transactions a payout (claim, transfer id, record) were most of a
run's own time: each a COMMIT's WAL flush. Here a batch (at most runs.BATCH) shares two:
1. claim, under the outbox row's lock then the payouts' (by id): each payout still to send is
   claimed as transfer_payout claims one (pending -> submitting, attempt n, destination, one
   lease for the batch); a provider on hold or without an account that can be paid is held;
   one leased by another run is left to it (the row comes back when that lease ends);
2. with nothing held: payouts an earlier attempt may have transferred (attempt > 0: a crash,
   an unknown outcome, a 5xx) are looked up first, by transfer id or transfer group
   `payout_{id}` and destination (Stripe forgets a key after 24 hours, the lookup does not);
   the platform's available balance is read once, and those that do not fit in it, in order,
   are held `insufficient_platform_balance` without a call (never half-paid); the rest
   transferred under Idempotency-Key payout-{id}-a{n}, CONCURRENCY calls at a time (a call
   not started within CALL_BUDGET is left to the payout's own job, as an unknown outcome);
3. record, under the outbox row's lock then the payouts' (by id): each payout still
   submitting under this attempt gets its outcome (one statement each for all the paid:
   status and transfer id, their entries Dr payouts_in_transit / Cr stripe_balance, their
   notices, the audit); one recorded meanwhile by a later run is left as it is. An outcome
   to try again (unknown, a transient error) goes to the payout's own transfer_payout job
   (an outbox row, after the same delay as there), so the batch row is done.

A SIGKILL anywhere leaves the row and the claimed payouts' leases: the row is handed out again,
waits for the lease to end, and its next run looks each payout's transfer up before any call.
Transfer ids are stored in the record transaction, once the batch's calls are answered (well
under CALL_BUDGET after Stripe gave them); a crash before it is what the lookup by transfer
group is for.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import asyncpg
import msgspec

from schemas.ledger import Pair
from schemas.payout_runs import HoldReason, PayoutRow, TransferPayoutJob, TransferPayoutsJob
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.core.leased import run_leased
from services.core.transactions import Transactions
from services.ledger.service import post_pairs
from services.payouts import notices
from services.payouts.connect import ConnectGateway, StripeFailed, StripeUnknown, Transfer
from services.payouts.queries import runs as q
from services.payouts.queries import transfers as qb
from services.payouts.transfers import (
    ENTITY,
    FINAL,
    LEASE,
    Outcome,
    Plan,
    answered,
    create,
    differs,
    hold,
    look_up,
    settle,
)

log = logging.getLogger(__name__)

# Stripe calls in flight at once for a batch (live mode allows 100 requests a second).
CONCURRENCY = 8
# No call starts later than this into a batch: its record must land within the job's 60 s.
CALL_BUDGET = timedelta(seconds=40)
T = TypeVar("T")


@dataclass
class Batch:
    plans: list[Plan] = field(default_factory=list)
    leased_until: datetime | None = None  # the latest lease of a payout another run holds
    results: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.results.items()))


def _hold_reason(
    row: PayoutRow, on_hold: set[uuid.UUID], destinations: dict[uuid.UUID, str]
) -> HoldReason | None:
    if row.provider_id in on_hold:
        return "provider_hold"
    return None if row.provider_id in destinations else "no_payout_account"


async def _claim(conn: asyncpg.Connection, outbox_id: int, job: TransferPayoutsJob) -> Batch | str:
    rows = [r for r in await qb.lock_payouts(conn, job.payout_ids) if r.status not in FINAL]
    now = clock.now()
    fresh = [r.provider_id for r in rows if r.status == "pending"]
    on_hold = await qb.list_open_holds(conn, fresh) if fresh else set()
    destinations = await q.list_destinations(conn, fresh) if fresh else {}
    batch = Batch()
    for row in rows:
        if row.status == "submitting" and row.lease_until is not None and row.lease_until > now:
            batch.leased_until = max(batch.leased_until or now, row.lease_until)
        elif row.status == "submitting":  # its outcome unknown: the same key, looked up first
            assert row.destination is not None  # the parameters under the key never change
            batch.plans.append(Plan(row, row.destination, row.attempt, look_first=True))
        elif reason := _hold_reason(row, on_hold, destinations):
            batch.results[(await hold(conn, row.id, reason)).result] += 1
        else:
            # Any earlier attempt may have made a transfer (a 5xx does not say it did not).
            batch.plans.append(Plan(row, destinations[row.provider_id], row.attempt + 1,
                                    look_first=row.attempt > 0))  # fmt: skip
    if batch.plans:
        claims = [(p.payout.id, p.attempt, p.destination) for p in batch.plans]
        await qb.update_claimed_many(conn, claims, now + LEASE, now)
        return batch
    if batch.leased_until is not None:
        await outbox.record_failure(conn, outbox_id, "leased", batch.leased_until - now)
        return "leased"
    await outbox.complete(conn, outbox_id)
    return batch.summary() or "done before"


async def _gathered(calls: list[Callable[[], Awaitable[T]]], deadline: float, late: T) -> list[T]:
    """The calls' answers, CONCURRENCY in flight at a time; a call not started by `deadline`
    (time.monotonic) is not made: `late` is its answer."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with limit:
            return late if time.monotonic() > deadline else await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def _asked(call: Callable[[], Awaitable[Transfer | None]]) -> Outcome | None:
    """The transfer Stripe gave (None: none was found), or what its error means."""
    try:
        transfer = await call()
    except StripeUnknown:
        return Outcome("unknown")
    except StripeFailed as exc:
        return answered(exc)
    return None if transfer is None else Outcome("transferred", transfer)


async def _call(gateway: ConnectGateway, batch: Batch) -> list[Outcome]:
    """Each plan's outcome: looked up first where an earlier attempt may have transferred,
    the balance read once, then the transfers of those that fit in it."""
    plans = batch.plans
    # Calls not started in time are left for the payouts' own jobs (as if their outcome were
    # unknown: looked up first), so a slow Stripe cannot keep a batch past its job's timeout.
    deadline = time.monotonic() + CALL_BUDGET.total_seconds()
    late: Outcome | None = Outcome("unknown")
    outcomes: list[Outcome | None] = [None] * len(plans)
    looked = [n for n, p in enumerate(plans) if p.look_first]
    found = await _gathered([partial(_asked, partial(look_up, gateway, plans[n]))
                             for n in looked], deadline, late)  # fmt: skip
    for n, out in zip(looked, found, strict=True):
        outcomes[n] = out
    rest = [n for n in range(len(plans)) if outcomes[n] is None]
    try:
        available = await gateway.available_usd() if rest else 0
    except StripeUnknown:
        available, unread = 0, Outcome("unknown")
    except StripeFailed as exc:
        available, unread = 0, answered(exc)
    else:
        unread = Outcome("short")
    sent = []
    for n in rest:
        if plans[n].payout.amount_cents <= available:
            available -= plans[n].payout.amount_cents
            sent.append(n)
        else:  # never half-paid: held until funds come (unread: as the read's error says)
            outcomes[n] = unread
    made = await _gathered([partial(_asked, partial(create, gateway, plans[n]))
                            for n in sent], deadline, late)  # fmt: skip
    for n, out in zip(sent, made, strict=True):
        outcomes[n] = out
    return [out if out is not None else Outcome("unknown") for out in outcomes]


async def _record(
    conn: asyncpg.Connection, outbox_id: int, batch: Batch, outcomes: list[Outcome]
) -> str:
    # Only status, attempt and a transfer id stored meanwhile can have changed since the claim:
    # the amount never does, and the destination is the claim's under its attempt.
    states = await qb.lock_payout_states(conn, [p.payout.id for p in batch.plans])
    now = clock.now()
    results = batch.results
    paid: list[tuple[PayoutRow, str]] = []
    unsettled: list[tuple[Plan, Outcome]] = []
    for plan, out in zip(batch.plans, outcomes, strict=True):
        state = states[plan.payout.id]
        payout = msgspec.structs.replace(plan.payout, status=state.status, attempt=state.attempt,
                                         stripe_transfer_id=state.stripe_transfer_id,
                                         destination=plan.destination)  # fmt: skip
        if state.status != "submitting" or state.attempt != plan.attempt:
            # A later run took over after our lease ended, or recorded it meanwhile.
            results["recorded elsewhere"] += 1
        elif out.kind == "transferred" and out.transfer and not differs(payout, out.transfer):
            paid.append((payout, out.transfer.id))
        else:
            unsettled.append((plan, out))
    if unsettled:  # settled from the whole row (its counts), read under the lock we hold
        rows = {r.id: r for r in await qb.lock_payouts(conn, [p.payout.id for p, _ in unsettled])}
        for plan, out in unsettled:
            settled = await settle(conn, rows[plan.payout.id], out)
            results[settled.result] += 1
            if settled.retry_in is not None:  # tried again by the payout's own job
                await outbox.add(conn, TransferPayoutJob(payout_id=plan.payout.id),
                                 dedupe_key=f"payout-{plan.payout.id}",
                                 available_at=now + settled.retry_in)  # fmt: skip
    if paid:
        ids = [p.id for p, _ in paid]
        await qb.update_paid_many(conn, [(p.id, t) for p, t in paid], now)
        await post_pairs(
            conn,
            "payout_transferred",
            ("payouts_in_transit", "stripe_balance"),
            ("payouts", "payout transferred"),
            now,
            [Pair(source_id=p.id, amount_cents=p.amount_cents) for p, _ in paid],
        )
        await notices.queue_notices(conn, ids)
        await audit.record(conn, SYSTEM, "update", ENTITY, ids)
        results["paid"] += len(paid)
    if batch.leased_until is not None:  # the rest is another run's until its lease ends
        await outbox.record_failure(conn, outbox_id, "leased", batch.leased_until - now)
    else:
        await outbox.complete(conn, outbox_id)
    return batch.summary()


async def transfer_payouts(tx: Transactions, gateway: ConnectGateway, outbox_id: int) -> str:
    """The transfer_payouts job's body: claim the batch, call Stripe with nothing held, record;
    the outcomes counted ("paid 200")."""
    outcome = await run_leased(
        tx, outbox_id, TransferPayoutsJob,
        lambda conn, job: _claim(conn, outbox_id, job),
        lambda batch: _call(gateway, batch),
        lambda conn, batch, outcomes: _record(conn, outbox_id, batch, outcomes),
    )  # fmt: skip
    log.info("payout transfers", extra={"job": TransferPayoutsJob.job, "outcome": outcome})
    return outcome
