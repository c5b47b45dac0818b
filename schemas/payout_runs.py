"""The payout run: payouts, their statement lines, the runs by date, and the transfer job's
payload (issue 18 items 3 and 5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec

from schemas.common import Base, Out
from schemas.payouts import Reason

PayoutStatus = Literal["pending", "submitting", "paid", "held", "failed", "cancelled"]
HoldReason = Literal[
    "insufficient_platform_balance",
    "no_payout_account",
    "transfer_failed",
    "provider_hold",
    "stripe_rate_limited",
]


class PayoutOut(Out):
    """A provider's payout for one period: its amount frozen at the cutoff."""

    id: uuid.UUID
    provider_id: uuid.UUID
    run_date: date
    period_end: datetime  # the cutoff
    amount_cents: int
    sessions_cents: int
    recoupments_cents: int  # taken back (positive)
    other_cents: int  # reversals and other adjustments (credit +)
    status: PayoutStatus
    attempt: int
    errors: int
    hold_reason: HoldReason | None
    failure_code: str | None
    stripe_transfer_id: str | None
    transfer_group: str
    reversed_cents: int
    paid_at: datetime | None
    cancel_reason: str | None  # why ops cancelled it (status cancelled)
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PayoutRow(PayoutOut):
    lease_until: datetime | None
    destination: str | None


class PayoutState(msgspec.Struct, frozen=True):
    """What a batch's record reads again of each payout it claimed (the rest it knows)."""

    id: uuid.UUID
    status: PayoutStatus
    attempt: int
    stripe_transfer_id: str | None


class PayoutLineOut(Out):
    """One statement line: a session's entry, a recoupment (its reason), another adjustment."""

    entry_id: int
    kind: str
    source_table: str
    source_id: uuid.UUID
    reason: str
    amount_cents: int  # what the line adds to the payout (negative: taken back)
    occurred_at: datetime


class PayoutDetailOut(Out):
    payout: PayoutOut
    lines: list[PayoutLineOut]


class PayoutRunIn(Base):
    """Run the payouts of `run_date` now (today or earlier); `provider_id`: only that
    provider, whatever their schedule (a manual schedule is paid this way)."""

    run_date: date
    provider_id: uuid.UUID | None = None


class PayoutRunOut(Out):
    """A run date: how often it ran, and what its payouts are now."""

    id: uuid.UUID
    run_date: date
    runs: int
    providers_due: int  # at the last run
    below_minimum: int  # due but owed less than the minimum at the last run (carried over)
    payouts: int  # not cancelled: what the run sends, paid or not yet
    total_cents: int  # of those payouts
    paid: int
    paid_cents: int
    pending: int  # pending or submitting
    held: int
    failed: int
    cancelled: int  # by ops, their money owed again (paid by a later payout); not in payouts
    last_run_at: datetime
    created_at: datetime
    # Of the cancelled ones (not in total_cents). A default: a run-now answer stored under an
    # Idempotency-Key before this field existed still replays.
    cancelled_cents: int = 0


class CancelPayoutIn(Base):
    """Why ops cancel a payout that never reached Stripe (its money is paid by a later one)."""

    reason: Reason


class PayoutRef(msgspec.Struct, frozen=True, kw_only=True):
    """A body-less payout action's request, as its Idempotency-Key is checked against."""

    payout_id: uuid.UUID


class TransferPayoutJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `transfer_payout`: the payout's id only."""

    job: ClassVar[str] = "transfer_payout"
    payout_id: uuid.UUID


class TransferPayoutsJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `transfer_payouts`: a freeze batch's payouts' ids (at most
    runs.BATCH), sent together."""

    job: ClassVar[str] = "transfer_payouts"
    payout_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=1000)]
