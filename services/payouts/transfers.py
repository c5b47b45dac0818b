"""The transfer_payout job: a frozen payout sent to the provider's Connect account once
(DESIGN.md "Payouts", "Stripe calls, exactly once"), and transfer reversals booked once.

The run's payouts go by batch (transfer_batches: the same claim, lookup and record rules, a
batch's in two transactions); this job sends one payout: a retry after an unknown outcome or a
transient error, a held payout sent again (top-up, hold released, ops' re-run).

The job claims the row (pending -> submitting, attempt n, a lease) in one short transaction,
then with nothing held: looks up the transfer an earlier attempt may have made (by its id, else
by transfer group `payout_{id}` and destination: Stripe forgets a key after 24 hours, the
lookup does not), reads the platform's available balance (short: the payout is held
`insufficient_platform_balance`, never half-paid), and transfers under Idempotency-Key
payout-{id}-a{n}, storing the transfer's id at once. The second transaction takes the outbox
row, then the payout, and books Dr payouts_in_transit / Cr stripe_balance once. n rises only
after Stripe answered with an error; after MAX_ERRORS of them the payout is held
`transfer_failed` for ops; a refusal (4xx) fails it with Stripe's code.

A 429 (rate limited: too many requests, Stripe's or the account's) says nothing about the
payout, so it is not one of its errors: it is counted apart (`rate_limited`) and tried again
under the same key rules (the next attempt takes key n+1, after looking the transfer up),
backing off from RATE_LIMIT_FIRST, doubling to RATE_LIMIT_MAX, each delay jittered down to
half (a batch's payouts rate-limited together do not come back together). Never forever: the
MAX_RATE_LIMITED-th 429 holds the payout `stripe_rate_limited` for ops (20: some 2 to 4 hours
of Stripe refusing; a job per payout, so each payout's own count), who see it with the held
payouts and send it again (POST /payouts/{id}/retry starts both counts again).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payout_runs import HoldReason, PayoutRow, TransferPayoutJob
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.core.leased import run_leased
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payouts import notices
from services.payouts.connect import ConnectGateway, StripeFailed, StripeUnknown, Transfer
from services.payouts.queries import runs as q
from services.payouts.queries import transfers as qt

log = logging.getLogger(__name__)

ENTITY = "payout"
# Longer than the job's arq timeout (60 s): no second run calls while the first may be calling.
LEASE = timedelta(seconds=120)
RETRY_UNKNOWN = timedelta(seconds=5)
RETRY_ERROR = timedelta(seconds=30)
MAX_ERRORS = 5
# A 429's back-off, doubling from the first to the most; held for ops at the last 429.
RATE_LIMIT_FIRST = timedelta(seconds=30)
RATE_LIMIT_MAX = timedelta(minutes=15)
MAX_RATE_LIMITED = 20
FINAL = ("paid", "held", "failed", "cancelled")  # never sent again by this job


@dataclass(frozen=True)
class Plan:
    payout: PayoutRow
    destination: str
    attempt: int
    look_first: bool  # an earlier attempt may have made a transfer


@dataclass(frozen=True)
class Settled:
    result: str
    error: str = ""
    retry_in: timedelta | None = None  # None: the payout's job is done


@dataclass(frozen=True)
class Outcome:
    kind: str  # transferred | short | unknown | error | rate_limited | refused
    transfer: Transfer | None = None
    code: str | None = None


async def hold(
    conn: asyncpg.Connection, payout_id: uuid.UUID, reason: HoldReason, code: str | None = None
) -> Settled:
    await q.update_payout(conn, payout_id, "held", hold_reason=reason, failure_code=code,
                          now=clock.now())  # fmt: skip
    await audit.record(conn, SYSTEM, "update", ENTITY, [payout_id])
    log.warning("payout held", extra={"job": TransferPayoutJob.job, "outcome": reason})
    return Settled(f"held {reason}")


async def _held(
    conn: asyncpg.Connection, outbox_id: int, payout_id: uuid.UUID, reason: HoldReason
) -> str:
    await outbox.complete(conn, outbox_id)
    return (await hold(conn, payout_id, reason)).result


async def _claim(conn: asyncpg.Connection, outbox_id: int, payout_id: uuid.UUID) -> Plan | str:
    row = await q.lock_payout(conn, payout_id)
    now = clock.now()
    if row is None or row.status in FINAL:
        await outbox.complete(conn, outbox_id)
        return "done before" if row else "no payout"
    if row.status == "submitting" and row.lease_until is not None and row.lease_until > now:
        await outbox.record_failure(conn, outbox_id, "leased", row.lease_until - now)
        return "leased"
    unknown = row.status == "submitting"
    if unknown:
        assert row.destination is not None  # the parameters under the key never change
        destination = row.destination
    else:
        if await q.has_open_hold(conn, row.provider_id):
            return await _held(conn, outbox_id, row.id, "provider_hold")
        found = await q.get_destination(conn, row.provider_id)
        if found is None:
            return await _held(conn, outbox_id, row.id, "no_payout_account")
        destination = found
    attempt = row.attempt if unknown else row.attempt + 1
    await q.update_claimed(conn, row.id, attempt, now + LEASE, destination, now)
    # Any earlier attempt may have made a transfer (a 5xx does not say it did not): look first.
    return Plan(row, destination, attempt, look_first=row.attempt > 0)


def answered(exc: StripeFailed) -> Outcome:
    """What Stripe's error answer means for the payout."""
    if exc.code == "balance_insufficient":  # spent between our read and the transfer
        return Outcome("short")
    if exc.status == 429:  # too many requests: nothing wrong with this payout
        return Outcome("rate_limited", code=exc.code[:100])
    transient = exc.status is None or exc.status >= 500
    return Outcome("error" if transient else "refused", code=exc.code[:100])


def rate_limit_delay(count: int) -> timedelta:
    """How long after its `count`-th 429 a payout is tried again: doubling, capped, jittered
    down to half."""
    ceiling: timedelta = min(RATE_LIMIT_FIRST * 2 ** min(count - 1, 20), RATE_LIMIT_MAX)
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not secrets)


async def look_up(gateway: ConnectGateway, plan: Plan) -> Transfer | None:
    payout = plan.payout
    if payout.stripe_transfer_id:
        return await gateway.get_transfer(payout.stripe_transfer_id)
    return await gateway.find_transfer(payout.transfer_group, plan.destination)


async def create(gateway: ConnectGateway, plan: Plan) -> Transfer:
    """The plan's transfer, under Hearth's key for its attempt (its parameters never change)."""
    payout = plan.payout
    return await gateway.create_transfer(
        key=f"payout-{payout.id}-a{plan.attempt}", amount=payout.amount_cents,
        destination=plan.destination, group=payout.transfer_group, payout_id=payout.id,
    )  # fmt: skip


async def _call(tx: Transactions, gateway: ConnectGateway, plan: Plan) -> Outcome:
    payout = plan.payout
    try:
        if plan.look_first and (earlier := await look_up(gateway, plan)) is not None:
            return Outcome("transferred", earlier)
        if await gateway.available_usd() < payout.amount_cents:
            return Outcome("short")
        made = await create(gateway, plan)
    except StripeUnknown:
        return Outcome("unknown")
    except StripeFailed as exc:
        return answered(exc)
    async with tx() as conn:  # the id at once, before anything else can fail
        await q.update_transfer_id(conn, payout.id, made.id, clock.now())
    return Outcome("transferred", made)


def differs(payout: PayoutRow, transfer: Transfer) -> bool:
    """The transfer is not this payout's (another id stored, or its amount or account)."""
    return (
        payout.stripe_transfer_id not in (None, transfer.id)
        or transfer.amount != payout.amount_cents
        or transfer.destination != payout.destination
    )


def transferred_entry(payout: PayoutRow, now: datetime) -> EntryIn:
    return EntryIn(
        kind="payout_transferred", idempotency_key=f"payout_transferred-{payout.id}",
        source_table="payouts", source_id=payout.id, occurred_at=now, memo="payout transferred",
        lines=(Line(account=AccountRef(kind="payouts_in_transit"), side="debit",
                    amount_cents=payout.amount_cents),
               Line(account=AccountRef(kind="stripe_balance"), side="credit",
                    amount_cents=payout.amount_cents)),
    )  # fmt: skip


async def _paid(conn: asyncpg.Connection, payout: PayoutRow, transfer: Transfer) -> Settled:
    if differs(payout, transfer):
        # Never book a transfer that is not this payout's: ops decide.
        log.error("transfer differs from its payout", extra={"outcome": transfer.id})
        await q.update_payout(conn, payout.id, "held", hold_reason="transfer_failed",
                              failure_code="transfer_differs", now=clock.now())  # fmt: skip
        await audit.record(conn, SYSTEM, "update", ENTITY, [payout.id])
        return Settled("transfer differs")
    now = clock.now()
    await q.update_transfer_id(conn, payout.id, transfer.id, now)
    await q.update_payout(conn, payout.id, "paid", now=now)
    await post_entry(conn, transferred_entry(payout, now))
    await notices.queue_notice(conn, payout.id)
    await audit.record(conn, SYSTEM, "update", ENTITY, [payout.id])
    return Settled("paid")


async def settle(conn: asyncpg.Connection, payout: PayoutRow, out: Outcome) -> Settled:
    """A call's outcome recorded on its payout (locked, still submitting under this attempt)."""
    now = clock.now()
    if out.kind == "transferred" and out.transfer is not None:
        return await _paid(conn, payout, out.transfer)
    if out.kind == "short":
        return await hold(conn, payout.id, "insufficient_platform_balance")
    if out.kind == "refused":
        await q.update_payout(conn, payout.id, "failed", failure_code=out.code, now=now)
        await audit.record(conn, SYSTEM, "update", ENTITY, [payout.id])
        return Settled("failed")
    if out.kind == "error":
        # Stripe answered an error: the key would replay it, so the next run takes key n+1.
        await q.update_errors(conn, payout.id, payout.errors + 1)
        if payout.errors + 1 >= MAX_ERRORS:
            return await hold(conn, payout.id, "transfer_failed", out.code)
        await q.update_payout(conn, payout.id, "pending", failure_code=out.code, now=now)
        return Settled("retry", f"stripe error {out.code}", RETRY_ERROR)
    if out.kind == "rate_limited":
        # Not the payout's error (errors stays): backed off, held once Stripe refused too long.
        count = await qt.update_rate_limited(conn, payout.id)
        if count >= MAX_RATE_LIMITED:
            return await hold(conn, payout.id, "stripe_rate_limited", out.code)
        await q.update_payout(conn, payout.id, "pending", failure_code=out.code, now=now)
        return Settled("retry", f"stripe rate limited {out.code}", rate_limit_delay(count))
    # Unknown: the lease given up; the next run looks the transfer up before any new call.
    await q.update_payout(conn, payout.id, "submitting", lease=now, now=now)
    return Settled("unknown", "stripe outcome unknown", RETRY_UNKNOWN)


async def _record(conn: asyncpg.Connection, outbox_id: int, plan: Plan, out: Outcome) -> str:
    payout = await q.lock_payout(conn, plan.payout.id)
    assert payout is not None
    if payout.status != "submitting" or payout.attempt != plan.attempt:
        # A later run took over after our lease ended, or this one was recorded meanwhile.
        if payout.status in FINAL:
            await outbox.complete(conn, outbox_id)
        return "recorded elsewhere"
    settled = await settle(conn, payout, out)
    if settled.retry_in is None:
        await outbox.complete(conn, outbox_id)
    else:
        await outbox.record_failure(conn, outbox_id, settled.error, settled.retry_in)
    return settled.result


async def transfer_payout(tx: Transactions, gateway: ConnectGateway, outbox_id: int) -> str:
    """The transfer_payout job's body: claim, call Stripe with nothing held, record."""
    return await run_leased(
        tx, outbox_id, TransferPayoutJob,
        lambda conn, job: _claim(conn, outbox_id, job.payout_id),
        lambda plan: _call(tx, gateway, plan),
        lambda conn, plan, out: _record(conn, outbox_id, plan, out),
    )  # fmt: skip


async def apply_transfer(conn: asyncpg.Connection, transfer: Transfer) -> str:
    """What Stripe says of a transfer's reversals now, each booked once (Dr stripe_balance,
    Cr provider_payable: the provider is owed it again, paid by a later payout)."""
    try:
        hearth_id = uuid.UUID(transfer.hearth_payout_id) if transfer.hearth_payout_id else None
    except ValueError:
        hearth_id = None
    payout = await q.lock_payout_by_transfer(conn, transfer.id, hearth_id)
    if payout is None:
        return "not our transfer"
    now = clock.now()
    booked = 0
    for reversal_id, amount in transfer.reversals:
        if not await q.insert_reversal(conn, reversal_id, payout.id, amount, now):
            continue
        booked += 1
        await post_entry(conn, EntryIn(
            kind="transfer_reversed", idempotency_key=f"transfer_reversed-{reversal_id}",
            source_table="payouts", source_id=payout.id, occurred_at=now,
            memo="payout transfer reversed",
            lines=(Line(account=AccountRef(kind="stripe_balance"), side="debit",
                        amount_cents=amount),
                   Line(account=AccountRef(kind="provider_payable", owner_id=payout.provider_id),
                        side="credit", amount_cents=amount)),
        ))  # fmt: skip
    if booked:
        await audit.record(conn, SYSTEM, "update", ENTITY, [payout.id])
    return f"{booked} reversals booked" if booked else "reversals booked before"
