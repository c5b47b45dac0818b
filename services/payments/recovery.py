"""Failed-payment recovery (issue 17 item 4; DESIGN.md "Charging clients", "Balance due").

A charge that did not go through queues `follow_up_charge` (write_offs.follow_up). The job
classifies the decline (DECLINES below), records the declined first charge against the card's
30-day limit, and schedules what follows through outbox rows with `available_at`, never a
sleep: soft declines are retried on the SAME PaymentIntent on the days of
`payment_retry_days` after the failure; hard declines, an authentication requirement and a
missing card are never retried and are written off `bad_debt_after_days` after the failure if
still unpaid. Every failure mails the client once (notices.py) with a link to pay on-session.

`retry_charge` follows charges.py's shape: claim the attempt row (submitting, a lease) under
the charge's lock, call Stripe with nothing held, record under the lock. Before each confirm it
re-reads the intent: paid meanwhile (the client on-session, a webhook) is recorded, not
charged again; a run whose answer was lost compares the intent's latest charge with the one it
saw before its confirm, so it knows whether the confirm reached Stripe before any new call. The
key is retry-{charge}-r{k}, with -a{n} after Stripe answered an error (the key would replay it).
Attempts on one card are capped at `payment_retry_cap` in 30 days across all the client's
charges; a retry over the cap waits until the oldest attempt leaves the window. The last
scheduled retry declined: the balance is written off (write_offs.py). A credit the client
holds by the time of a retry first settles the charge (DESIGN.md "Balance due"): only the rest
is charged, as a new charge (`charges.apply_credit`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import msgspec

from schemas.payments import (
    AttemptRow,
    ChargeNoticeJob,
    ChargeRow,
    DeclineClass,
    FollowUpChargeJob,
    RecoveryRow,
    RecoveryStatus,
    RetryChargeJob,
    WriteOffChargeJob,
)
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments import charges, write_offs
from services.payments import queries as q
from services.payments.gateway import (
    Captured,
    Declined,
    Intent,
    StripeFailed,
    StripeGateway,
    StripeUnknown,
)
from services.payments.queries import recovery as rq

log = logging.getLogger(__name__)

WINDOW = timedelta(days=30)  # the card networks' retry window
AUTHENTICATION = "authentication_required"
# Stripe's decline codes (docs.stripe.com/declines/codes) whose cause may pass on its own
# (funds, the issuer's or network's availability, velocity limits, an unexplained refusal: Visa
# lets these be retried, within 15 attempts in 30 days). Every other code, and any code Stripe
# adds later, is hard: the card is lost, stolen, closed, expired, wrong, or the issuer said do
# not try again, and only the client can mend it (another card, or their bank).
SOFT_DECLINES = frozenset({
    "insufficient_funds", "try_again_later", "processing_error", "issuer_not_available",
    "reenter_transaction", "approve_with_id", "generic_decline", "do_not_honor",
    "card_velocity_exceeded", "withdrawal_count_limit_exceeded", "no_action_taken",
})  # fmt: skip
# Never retried (kept for the record; anything unknown is treated the same way).
HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "pickup_card", "fraudulent", "merchant_blacklist",
    "security_violation", "restricted_card", "expired_card", "incorrect_number",
    "invalid_number", "incorrect_cvc", "invalid_cvc", "incorrect_zip", "invalid_account",
    "invalid_expiry_month", "invalid_expiry_year", "card_not_supported",
    "currency_not_supported", "new_account_information_available", "do_not_try_again",
    "revocation_of_authorization", "revocation_of_all_authorizations", "stop_payment_order",
    "transaction_not_allowed", "not_permitted", "service_not_allowed", "call_issuer",
    "duplicate_transaction", "invalid_amount", "pin_try_exceeded", "testmode_decline",
})  # fmt: skip


def classify(failure_code: str | None, decline_code: str | None) -> DeclineClass:
    """What a failed charge's codes call for (authentication_required comes as either)."""
    if AUTHENTICATION in (failure_code, decline_code):
        return "authentication"
    if failure_code == "no_card_on_file":
        return "no_card"
    if failure_code == "card_declined" and decline_code in SOFT_DECLINES:
        return "soft"
    return "hard"


async def _schedule_write_off(
    conn: asyncpg.Connection, settings: Settings, recovery: RecoveryRow
) -> None:
    at = recovery.first_failed_at + timedelta(days=settings.bad_debt_after_days)
    await outbox.add(conn, WriteOffChargeJob(charge_id=recovery.charge_id),
                     dedupe_key=f"write-off-{recovery.charge_id}", available_at=at)  # fmt: skip


async def _schedule_retry(
    conn: asyncpg.Connection, settings: Settings, recovery: RecoveryRow, retry: int
) -> None:
    """Retry k on day retry_days[k-1] after the first failure (at once if that is past)."""
    at = recovery.first_failed_at + timedelta(days=settings.retry_days[retry - 1])
    job = RetryChargeJob(charge_id=recovery.charge_id, retry=retry)
    await outbox.add_earliest(conn, job, dedupe_key=f"retry-{recovery.charge_id}-r{retry}",
                              available_at=max(at, clock.now()))  # fmt: skip


async def _failure_noted(
    conn: asyncpg.Connection, charge: ChargeRow, kind: DeclineClass, status: RecoveryStatus,
    failed_at: datetime,
) -> RecoveryRow:  # fmt: skip
    """The failure counted on the charge's recovery, and its email queued once."""
    recovery = await rq.upsert_recovery(conn, charge.id, charge.client_id, kind, status,
                                        failed_at, clock.now())  # fmt: skip
    await outbox.add(conn, ChargeNoticeJob(charge_id=charge.id, failure=recovery.failures),
                     dedupe_key=f"notice-{charge.id}-{recovery.failures}")  # fmt: skip
    return recovery


async def follow_up_charge(conn: asyncpg.Connection, settings: Settings, outbox_id: int) -> str:
    """The follow_up_charge job's body, in one transaction: the recovery written, retries or
    the write-off scheduled, the client's notice queued."""
    job = await outbox.lock(conn, outbox_id, FollowUpChargeJob)
    if job is None:
        return "done before"
    charge = await q.lock_charge(conn, job.charge_id)
    failed_at = await rq.get_failed_at(conn, job.charge_id)
    if charge is None or charge.status not in ("failed", "balance_due") or failed_at is None:
        await outbox.complete(conn, outbox_id)
        return "nothing to follow up"
    kind = classify(charge.failure_code, charge.decline_code)
    soft = kind == "soft" and bool(settings.retry_days)
    recovery = await _failure_noted(conn, charge, kind, "retrying" if soft else "awaiting_client",
                                    failed_at)  # fmt: skip
    if charge.status == "failed" and charge.payment_method_id is not None:
        codes = (charge.failure_code, charge.decline_code)
        await rq.insert_first_attempt(conn, charge.client_id, charge.id,
                                      charge.payment_method_id, codes, failed_at)  # fmt: skip
    if soft:
        await _schedule_retry(conn, settings, recovery, 1)
    else:
        await _schedule_write_off(conn, settings, recovery)
    await audit.record(conn, SYSTEM, "create", write_offs.ENTITY, [charge.id])
    await outbox.complete(conn, outbox_id)
    return f"{kind} decline" if charge.status == "failed" else "balance due"


async def write_off_charge(conn: asyncpg.Connection, outbox_id: int) -> str:
    """The write_off_charge job's body: a charge still unpaid written off, once."""
    job = await outbox.lock(conn, outbox_id, WriteOffChargeJob)
    if job is None:
        return "done before"
    charge = await q.lock_charge(conn, job.charge_id)
    outcome = "paid or in flight"
    if charge is not None and charge.status in ("failed", "balance_due"):
        outcome = await write_offs.write_off(conn, charge)
    await outbox.complete(conn, outbox_id)
    return outcome


@dataclass(frozen=True)
class RetryPlan:
    charge: ChargeRow
    attempt: AttemptRow
    look_first: bool  # an earlier call under this retry may have reached Stripe


@dataclass(frozen=True)
class RetryOutcome:
    kind: str  # succeeded | declined | unknown | error | refused
    intent: Intent | None = None
    captured: Captured | None = None
    codes: tuple[str | None, str | None] = (None, None)


async def _stop_retrying(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int, charge: ChargeRow, why: str
) -> str:
    """No more retries for this charge: the client pays on-session or it is written off."""
    now = clock.now()
    await rq.update_recovery_status(conn, charge.id, "awaiting_client", now)
    recovery = await rq.lock_recovery(conn, charge.id)
    if recovery is not None:
        await _schedule_write_off(conn, settings, recovery)
    await outbox.complete(conn, outbox_id)
    return why


async def _claim_retry(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int, job: RetryChargeJob
) -> RetryPlan | str:
    charge = await q.lock_charge(conn, job.charge_id)
    recovery = await rq.lock_recovery(conn, job.charge_id)
    if charge is None or recovery is None or charge.status != "failed" \
            or recovery.status != "retrying":  # fmt: skip
        await outbox.complete(conn, outbox_id)
        return "nothing to retry"
    if (credited := await charges.apply_credit(conn, charge)) is not None:
        await outbox.complete(conn, outbox_id)
        rest = await write_offs.left_due(conn, credited)
        return "credit applied, the rest charged anew" if rest > 0 else "credit applied"
    method, intent = charge.payment_method_id, charge.payment_intent_id
    if method is None or intent is None or not await rq.has_saved_card(conn, charge.client_id,
                                                                       method):  # fmt: skip
        return await _stop_retrying(conn, settings, outbox_id, charge, "card removed")
    if await q.sum_refunds_of_charge(conn, charge.id, ("applied",)) > 0:
        # The balance due is less than the intent's amount: the client pays it on-session.
        return await _stop_retrying(conn, settings, outbox_id, charge, "balance changed")
    now = clock.now()
    attempt = await rq.lock_attempt(conn, charge.id, job.retry)
    if attempt is None:
        count, oldest = await rq.get_card_attempts(conn, charge.client_id, method, now - WINDOW)
        if count >= settings.payment_retry_cap and oldest is not None:
            await outbox.record_failure(conn, outbox_id, "card retry limit", oldest + WINDOW - now)
            return "capped"
        attempt = await rq.insert_attempt(conn, charge.client_id, charge.id, method, job.retry,
                                          now + charges.LEASE, now)  # fmt: skip
        return RetryPlan(charge, attempt, look_first=False)
    state = (attempt.status, attempt.lease_until)
    if busy := await charges.not_to_call(conn, outbox_id, state, ("succeeded", "declined"),
                                         "retry"):  # fmt: skip
        return busy
    # An error answer takes the next key; an unknown outcome keeps its key and looks first.
    call = attempt.call + 1 if attempt.status == "error" else attempt.call
    await rq.update_attempt(conn, attempt.id, "submitting", call=call, lease=now + charges.LEASE,
                            codes=(None, None), now=now)  # fmt: skip
    claimed = msgspec.structs.replace(attempt, call=call, status="submitting")
    return RetryPlan(charge, claimed, look_first=attempt.status == "submitting")


async def _settled(gateway: StripeGateway, intent: Intent) -> RetryOutcome | None:
    """What an intent already says: paid, or None (still to confirm)."""
    if intent.status == "succeeded" and intent.charge_id is not None:
        return RetryOutcome("succeeded", intent, await gateway.captured(intent.charge_id))
    return None


async def _call_retry(tx: Transactions, gateway: StripeGateway, plan: RetryPlan) -> RetryOutcome:
    charge, attempt = plan.charge, plan.attempt
    assert charge.payment_intent_id is not None
    try:
        intent = await gateway.get_intent(charge.payment_intent_id)
        if (done := await _settled(gateway, intent)) is not None:
            return done
        if plan.look_first and attempt.prior_charge not in (None, intent.charge_id):
            # Our earlier confirm reached Stripe and was declined (a success is settled above).
            return RetryOutcome(
                "declined", intent, None, (intent.failure_code, intent.decline_code)
            )
        if intent.status != "requires_payment_method":
            # The client is confirming it on-session (3-D Secure, say): retries stop there.
            return RetryOutcome("refused", intent, None, ("payment_intent_unexpected_state", None))
        async with tx() as conn:
            await rq.update_prior_charge(conn, attempt.id, intent.charge_id, clock.now())
        suffix = f"-a{attempt.call}" if attempt.call > 1 else ""
        confirmed = await gateway.confirm_intent(
            key=f"retry-{charge.id}-r{attempt.retry}{suffix}", intent_id=intent.id,
            method=attempt.payment_method_id, off_session=True,
        )  # fmt: skip
        return await _settled(gateway, confirmed) or RetryOutcome("unknown", confirmed)
    except Declined as exc:
        return RetryOutcome("declined", None, None, (exc.failure_code, exc.decline_code))
    except StripeUnknown:
        return RetryOutcome("unknown")
    except StripeFailed as exc:
        return RetryOutcome("error" if exc.transient else "refused", codes=(exc.code[:100], None))


async def _after_decline(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int, charge: ChargeRow,
    plan: RetryPlan, codes: tuple[str | None, str | None],
) -> str:  # fmt: skip
    """A retry declined: the next one scheduled, or none (hard now, or the last one)."""
    now = clock.now()
    failure = (codes[0] or "card_declined", codes[1])
    await q.update_failed(conn, charge.id, "failed", None, failure, now)
    kind = classify(*failure)
    if kind != "soft":  # nothing more is tried: the client is told what to do
        await _failure_noted(conn, charge, kind, "awaiting_client", now)
        return await _stop_retrying(conn, settings, outbox_id, charge, f"retry {kind} decline")
    current = await rq.lock_recovery(conn, charge.id)
    assert current is not None
    if plan.attempt.retry < len(settings.retry_days):
        await _schedule_retry(conn, settings, current, plan.attempt.retry + 1)
        await outbox.complete(conn, outbox_id)
        return "retry declined"
    result = await write_offs.write_off(conn, charge)
    await _failure_noted(conn, charge, kind, "awaiting_client", now)  # "we will not try again"
    await outbox.complete(conn, outbox_id)
    return f"retries exhausted, {result}"


async def _record_retry(
    conn: asyncpg.Connection, settings: Settings, outbox_id: int, plan: RetryPlan,
    out: RetryOutcome,
) -> str:  # fmt: skip
    charge = await q.lock_charge(conn, plan.charge.id)
    attempt = await rq.lock_attempt(conn, plan.charge.id, plan.attempt.retry)
    assert charge is not None
    assert attempt is not None
    if attempt.status != "submitting" or attempt.call != plan.attempt.call:
        return "recorded elsewhere"
    now = clock.now()
    call, aid = attempt.call, attempt.id
    if out.kind == "succeeded" and out.intent is not None and out.captured is not None:
        await rq.update_attempt(conn, aid, "succeeded", call=call, lease=None, codes=(None, None),
                                now=now)  # fmt: skip
        result = "already recorded"
        if charge.status != "succeeded":
            result = await charges.record_success(conn, charge, out.intent, out.captured)
        await outbox.complete(conn, outbox_id)
        return result
    if out.kind in ("declined", "refused"):
        await rq.update_attempt(conn, aid, "declined", call=call, lease=None, codes=out.codes,
                                now=now)  # fmt: skip
        if charge.status != "failed":
            await outbox.complete(conn, outbox_id)
            return "recorded elsewhere"
        return await _after_decline(conn, settings, outbox_id, charge, plan, out.codes)
    if out.kind == "error":
        await rq.update_attempt(conn, aid, "error", call=call, lease=None, codes=out.codes,
                                now=now)  # fmt: skip
        await outbox.record_failure(conn, outbox_id, "stripe error", charges.RETRY_ERROR)
        return "retry"
    # Unknown: the lease given up; the next run re-reads the intent before any new confirm.
    await rq.update_attempt(conn, aid, "submitting", call=call, lease=now, codes=(None, None),
                            now=now)  # fmt: skip
    await outbox.record_failure(conn, outbox_id, "stripe outcome unknown", charges.RETRY_UNKNOWN)
    return "unknown"


async def retry_charge(
    tx: Transactions, gateway: StripeGateway, settings: Settings, outbox_id: int
) -> str:
    """The retry_charge job's body: claim the retry, confirm the intent again, record."""
    return await charges.run_leased(
        tx, outbox_id, RetryChargeJob,
        lambda conn, job: _claim_retry(conn, settings, outbox_id, job),
        lambda plan: _call_retry(tx, gateway, plan),
        lambda conn, plan, out: _record_retry(conn, settings, outbox_id, plan, out),
    )  # fmt: skip
