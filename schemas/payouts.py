"""Provider payouts: Connect accounts, schedules and holds, what is due, the trial-balance
checks and the platform's top-ups (issue 18 items 1, 2 and 5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.common import Base, Out, text

Reason = Annotated[str, text(500)]
# ISO weekdays: 1 Monday .. 7 Sunday.
Weekday = Annotated[int, Meta(ge=1, le=7)]
# Stripe refuses a top-up over $999,999.99 (and Hearth's column says the same).
TopUpCents = Annotated[int, Meta(ge=100, le=99_999_999)]
MONDAY = 1


class PayoutAccountOut(Out):
    """The provider's Connect account as Stripe said it last (synced_at): re-read on each GET,
    by account.updated and before a payout run."""

    provider_id: uuid.UUID
    stripe_account_id: str | None  # None: not created yet (a call's outcome was unknown)
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: list[str]  # Stripe's currently_due and past_due
    disabled_reason: str | None
    # Stripe's hosted onboarding, a one-time address made by each POST (None on a GET: ask
    # again for a fresh one once it expired).
    onboarding_url: str | None
    onboarding_expires_at: datetime | None
    synced_at: datetime | None
    created_at: datetime


class PayoutAccountRow(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: uuid.UUID
    stripe_account_id: str | None
    attempt: int
    called_at: datetime | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: list[str]
    disabled_reason: str | None
    synced_at: datetime | None
    created_at: datetime


ScheduleKind = Literal["weekly", "biweekly", "manual"]


class PayoutScheduleIn(Base):
    """Weekly on `anchor_weekday` (default Monday); biweekly every 14 days from `anchor_date`
    (a payout falls on it); manual: only when ops run it."""

    kind: ScheduleKind
    anchor_weekday: Weekday | None = None
    anchor_date: date | None = None
    reason: Reason | None = None


class PayoutScheduleRow(Out):
    id: uuid.UUID | None  # None: no schedule set, DESIGN.md's default (weekly on Monday)
    kind: ScheduleKind
    anchor_weekday: int | None
    anchor_date: date | None
    reason: str | None
    changed_by: uuid.UUID | None
    created_at: datetime | None


class PayoutHoldIn(Base):
    reason: Reason


class ReleaseHoldIn(Base):
    reason: Reason | None = None


class PayoutHoldOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    reason: str
    placed_by: uuid.UUID | None
    released_at: datetime | None
    released_by: uuid.UUID | None
    release_reason: str | None
    created_at: datetime


class PayableDue(Out):
    """What the ledger says a payout with this cutoff would pay (provider_payable, credit +):
    sessions whose 48-hour edit window closed by the cutoff, other entries made by it."""

    cutoff: datetime
    sessions_cents: int  # net of the sessions' completion and edit entries
    recoupments_cents: int  # recoupments netted (positive: taken back)
    other_cents: int  # corrections, payouts already frozen, reversals... (credit +)
    amount_cents: int  # sessions - recoupments + other: what is owed now (may be < 0)
    sessions: int  # how many sessions contribute


class PayoutScheduleOut(Out):
    provider_id: uuid.UUID
    schedule: PayoutScheduleRow
    history: list[PayoutScheduleRow]  # newest first, the one in force included
    holds: list[PayoutHoldOut]  # open holds, oldest first
    held: bool
    next_payout_date: date | None  # None: manual
    expected: PayableDue  # at the next payout's cutoff (manual: as of now)


class TrialBalanceCheckOut(Out):
    id: uuid.UUID
    debits_cents: int
    credits_cents: int
    imbalance_cents: int
    accounts: int
    balanced: bool
    created_at: datetime


TopUpStatus = Literal["pending", "submitting", "created", "succeeded", "failed"]


class TopUpIn(Base):
    amount_cents: TopUpCents
    description: Annotated[str, text(200)] | None = None


class TopUpOut(Out):
    """A bank -> Stripe balance top-up; the entry (Dr stripe_balance, Cr bank) is posted once
    Stripe says it succeeded."""

    id: uuid.UUID
    amount_cents: int
    description: str | None
    status: TopUpStatus
    attempt: int
    lease_until: datetime | None
    stripe_topup_id: str | None
    failure_code: str | None
    requested_by: uuid.UUID | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    created_at: datetime


class CreateTopUpJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `create_top_up`: the top-up's id only."""

    job: ClassVar[str] = "create_top_up"
    top_up_id: uuid.UUID
