"""Top-ups: money ops move from the bank to the platform's Stripe balance, so transfers to
providers have funds (DESIGN.md "Payouts", "Money": Dr stripe_balance / Cr bank once it
succeeds; "Stripe calls, exactly once").

The route writes the row (amount frozen) and its create_top_up outbox row. The job claims the
row (pending -> submitting, attempt n, a lease) in one short transaction, calls Stripe with
nothing held (Idempotency-Key top_up-{id}-a{n}, Hearth's id in the metadata), stores the
top-up's id at once, and records what Stripe said in a second transaction. A run that finds the
row submitting after its lease ended does not know whether the last call made a top-up: it
looks it up (by id, else by metadata) and creates one only when none exists. The entry is
posted only once Stripe says `succeeded` (the create's answer, topup.succeeded, or a re-read),
under its own key, so the job and a webhook racing book it once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from schemas.ledger import AccountRef, EntryIn, Line
from schemas.payouts import CreateTopUpJob, TopUpIn, TopUpOut
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM, Actor
from services.core.leased import run_leased
from services.core.pagination import Page, page_of
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payouts import runs
from services.payouts.connect import ConnectGateway, StripeFailed, StripeUnknown, TopUp
from services.payouts.queries import top_ups as q

log = logging.getLogger(__name__)

ENTITY = "platform_top_up"
# Longer than the job's arq timeout (60 s): no second run calls while the first may be calling.
LEASE = timedelta(seconds=120)
RETRY_UNKNOWN = timedelta(seconds=5)
RETRY_ERROR = timedelta(seconds=30)
# A created top-up is re-read until Stripe says succeeded or failed (a webhook may never come).
RECHECK = timedelta(minutes=15)
FINAL = ("succeeded", "failed")


async def request_top_up(conn: asyncpg.Connection, actor: Actor, data: TopUpIn) -> TopUpOut:
    """The top-up row, its amount frozen, and its job, in the request's transaction."""
    top_up = await q.insert_top_up(conn, data.amount_cents, data.description, actor.user_id,
                                   clock.now())  # fmt: skip
    await outbox.add(conn, CreateTopUpJob(top_up_id=top_up.id), dedupe_key=f"top_up-{top_up.id}")
    await audit.record(conn, actor, "create", ENTITY, [top_up.id])
    return top_up


async def list_top_ups(conn: asyncpg.Connection, limit: int, cursor: str | None) -> Page[TopUpOut]:
    return await page_of(lambda after, n: q.list_top_ups(conn, after, n), cursor, limit)


async def _succeeded(conn: asyncpg.Connection, row: TopUpOut) -> None:
    now = clock.now()
    await post_entry(conn, EntryIn(
        kind="top_up", idempotency_key=f"top_up-{row.id}", source_table="platform_top_ups",
        source_id=row.id, memo="top-up from the bank", occurred_at=now,
        lines=(Line(account=AccountRef(kind="stripe_balance"), side="debit",
                    amount_cents=row.amount_cents),
               Line(account=AccountRef(kind="bank"), side="credit",
                    amount_cents=row.amount_cents)),
    ))  # fmt: skip
    await q.update_status(conn, row.id, "succeeded", None, None, now)
    await runs.on_funds_added(conn)  # payouts held for want of funds are tried again


async def _locked(conn: asyncpg.Connection, topup: TopUp) -> TopUpOut | None:
    """Our row of a Stripe top-up: by its id, else by the id in its metadata."""
    row = await q.lock_top_up_by_stripe_id(conn, topup.id)
    if row is not None or topup.hearth_top_up_id is None:
        return row
    try:
        return await q.lock_top_up(conn, uuid.UUID(topup.hearth_top_up_id))
    except ValueError:
        return None


async def apply_topup(conn: asyncpg.Connection, topup: TopUp) -> str:
    """What Stripe says of a top-up now, applied to its row once (job and webhooks alike)."""
    row = await _locked(conn, topup)
    if row is None:
        return "not our top-up"
    if row.stripe_topup_id not in (None, topup.id) or topup.amount != row.amount_cents:
        log.error("top-up differs from its row", extra={"outcome": topup.id})
        return "top-up differs"
    now = clock.now()
    await q.update_stripe_id(conn, row.id, topup.id, now)
    if row.status in ("succeeded", "failed"):
        return f"already {row.status}"
    if topup.status == "succeeded":
        await _succeeded(conn, row)
    elif topup.status in ("failed", "canceled", "reversed"):
        await q.update_status(conn, row.id, "failed", None, topup.failure_code or topup.status,
                              now)  # fmt: skip
    else:  # pending: the funds are on their way
        if row.status == "created":
            return "still pending"
        await q.update_status(conn, row.id, "created", None, None, now)
    await audit.record(conn, SYSTEM, "update", ENTITY, [row.id])
    return "succeeded" if topup.status == "succeeded" else (
        "failed" if topup.status != "pending" else "created")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    row: TopUpOut
    attempt: int
    look_first: bool  # an earlier call may have made a top-up
    recheck: bool = False  # created at Stripe: only re-read it


async def _claim(conn: asyncpg.Connection, outbox_id: int, top_up_id: uuid.UUID) -> Plan | str:
    row = await q.lock_top_up(conn, top_up_id)
    now = clock.now()
    if row is None or row.status in FINAL:
        await outbox.complete(conn, outbox_id)
        return "done before" if row else "no top-up"
    if row.status == "submitting" and row.lease_until is not None and row.lease_until > now:
        await outbox.record_failure(conn, outbox_id, "leased", row.lease_until - now)
        return "leased"
    if row.status == "created":
        return Plan(row, row.attempt, look_first=True, recheck=True)
    unknown = row.status == "submitting"
    attempt = row.attempt if unknown else row.attempt + 1
    await q.update_claimed(conn, row.id, attempt, now + LEASE, now)
    return Plan(row, attempt, look_first=row.attempt > 0)


async def _call(tx: Transactions, gateway: ConnectGateway, plan: Plan) -> TopUp | str:
    """The top-up at Stripe, or why there is none: "unknown", "error:<code>", "refused:<code>"."""
    row = plan.row
    try:
        if plan.recheck and row.stripe_topup_id is not None:
            return await gateway.get_topup(row.stripe_topup_id)
        if plan.look_first:
            found = (await gateway.get_topup(row.stripe_topup_id) if row.stripe_topup_id
                     else await gateway.find_topup(row.id))  # fmt: skip
            if found is not None:
                return found
        made = await gateway.create_topup(
            key=f"top_up-{row.id}-a{plan.attempt}", amount=row.amount_cents, top_up_id=row.id,
            description=row.description,
        )  # fmt: skip
    except StripeUnknown:
        return "unknown"
    except StripeFailed as exc:
        transient = exc.status is None or exc.status >= 500 or exc.status == 429
        return f"{'error' if transient else 'refused'}:{exc.code[:80]}"
    async with tx() as conn:  # the id at once, before anything else can fail
        await q.update_stripe_id(conn, row.id, made.id, clock.now())
    return made


async def _record(conn: asyncpg.Connection, outbox_id: int, plan: Plan, out: TopUp | str) -> str:
    row = await q.lock_top_up(conn, plan.row.id)
    assert row is not None
    if plan.recheck:
        return await _rechecked(conn, outbox_id, out)
    if row.status != "submitting" or row.attempt != plan.attempt:
        if row.status in FINAL:  # a webhook recorded it meanwhile
            await outbox.complete(conn, outbox_id)
        return "recorded elsewhere"
    now = clock.now()
    if isinstance(out, TopUp):
        result = await apply_topup(conn, out)
    elif out.startswith("refused:"):
        await q.update_status(conn, row.id, "failed", None, out.removeprefix("refused:"), now)
        await audit.record(conn, SYSTEM, "update", ENTITY, [row.id])
        result = "failed"
    elif out.startswith("error:"):
        # Stripe answered an error: the key would replay it, so the next run takes key n+1.
        await q.update_status(conn, row.id, "pending", None, out.removeprefix("error:"), now)
        await outbox.record_failure(conn, outbox_id, f"stripe {out}", RETRY_ERROR)
        return "retry"
    else:
        # Unknown: the lease given up; the next run looks the top-up up before any new call.
        await q.update_status(conn, row.id, "submitting", now, None, now)
        await outbox.record_failure(conn, outbox_id, "stripe outcome unknown", RETRY_UNKNOWN)
        return "unknown"
    if result == "created":
        await outbox.record_failure(conn, outbox_id, "top-up pending at Stripe", RECHECK)
        return result
    await outbox.complete(conn, outbox_id)
    return result


async def _rechecked(conn: asyncpg.Connection, outbox_id: int, out: TopUp | str) -> str:
    """A created top-up re-read: applied if Stripe settled it, else looked at again later."""
    if isinstance(out, str):
        await outbox.record_failure(conn, outbox_id, f"stripe {out}", RETRY_ERROR)
        return "retry"
    result = await apply_topup(conn, out)
    if result == "still pending":
        await outbox.record_failure(conn, outbox_id, "top-up pending at Stripe", RECHECK)
        return "pending"
    await outbox.complete(conn, outbox_id)
    return result


async def create_top_up(tx: Transactions, gateway: ConnectGateway, outbox_id: int) -> str:
    """The create_top_up job's body: claim, call Stripe with nothing held, record."""
    return await run_leased(
        tx, outbox_id, CreateTopUpJob,
        lambda conn, job: _claim(conn, outbox_id, job.top_up_id),
        lambda plan: _call(tx, gateway, plan),
        lambda conn, plan, out: _record(conn, outbox_id, plan, out),
    )  # fmt: skip
