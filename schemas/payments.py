"""Client payments through Stripe: card on file, charges, webhook events (issue 17;
services/payments/)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from schemas.common import Base, LongText, Out

# The consent the client gives when saving a card (DESIGN.md "Charging clients"); a new text
# gets a new version, and each setup keeps the version it showed.
CONSENT_VERSION: Final = "2026-12-01"
CONSENT_TEXT: Final = (
    "I authorize Hearth to save this card and charge it off-session: the estimate of my share "
    "of each session is charged at completion and adjusted after the insurer's explanation of "
    "benefits (an extra charge or a refund to this card)."
)
# Stripe refuses a charge under 50 cents (USD): such an amount stays a balance due.
STRIPE_MINIMUM_CENTS: Final = 50

ChargeKind = Literal["completion", "true_up", "balance"]
# pending: written with its outbox row; submitting: a job holds its lease and calls Stripe;
# succeeded: captured (the card_captured entry posted); failed: Stripe's 402 (a balance due);
# balance_due: never sent (no card on file, or under Stripe's minimum).
ChargeStatus = Literal["pending", "submitting", "succeeded", "failed", "balance_due"]


class PaymentSetupOut(Out):
    """What a frontend needs to collect a card with Stripe.js: the SetupIntent's secret, and
    the consent text to show beside it (its version is kept with the setup)."""

    setup_id: uuid.UUID
    client_secret: str
    consent_text: str
    consent_version: str
    consented_at: datetime


class PaymentMethodOut(Out):
    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    saved_at: datetime


class PaymentMethodsOut(Out):
    items: list[PaymentMethodOut]


class ChargeRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    client_id: uuid.UUID
    kind: ChargeKind
    source_table: str
    source_id: uuid.UUID
    amount_cents: int
    status: ChargeStatus
    attempt: int
    lease_until: datetime | None
    payment_method_id: str | None
    payment_intent_id: str | None
    fee_cents: int | None
    failure_code: str | None
    decline_code: str | None
    created_at: datetime
    credit_applied_cents: int = 0  # what a client's credit settled of it (migration 0042)


class ChargeClientJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `charge_client`: the charge's id only (no PHI)."""

    job: ClassVar[str] = "charge_client"
    charge_id: uuid.UUID


class HandleStripeEventJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `handle_stripe_event`: the stored event's id."""

    job: ClassVar[str] = "handle_stripe_event"
    event_id: str


class StripeEventIn(msgspec.Struct, kw_only=True):
    """The fields of a webhook's body Hearth keeps; the job re-reads the object from Stripe."""

    id: str
    type: str
    data: StripeEventData


class StripeEventData(msgspec.Struct, kw_only=True):
    object: StripeObjectRef


class StripeObjectRef(msgspec.Struct, kw_only=True):
    id: str | None = None


class WebhookAck(Out):
    received: bool
    duplicate: bool


# pending: written with its outbox row, amount frozen; submitting: a job holds its lease and
# calls Stripe; succeeded: Stripe refunded it (the refund entry posted); failed: Stripe refused
# it; applied: no Stripe call, it reduced the balance due of a charge that never succeeded.
RefundStatus = Literal["pending", "submitting", "succeeded", "failed", "applied"]


class RefundRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    client_id: uuid.UUID
    charge_id: uuid.UUID
    true_up_id: uuid.UUID
    amount_cents: int
    status: RefundStatus
    attempt: int
    lease_until: datetime | None
    stripe_refund_id: str | None
    created_at: datetime


class RefundClientJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `refund_client`: the refund's id only (no PHI)."""

    job: ClassVar[str] = "refund_client"
    refund_id: uuid.UUID


# Failed-payment recovery (services/payments/recovery.py). A decline's class decides what
# follows: soft is retried on the same PaymentIntent on the schedule; hard is never retried;
# authentication needs the client on-session (a link to pay); no_card: nothing to charge yet.
DeclineClass = Literal["soft", "hard", "authentication", "no_card"]
# retrying: soft, retries scheduled; awaiting_client: nothing more is tried, the client pays
# on-session (written off after bad_debt_after_days); paid; written_off (still payable).
RecoveryStatus = Literal["retrying", "awaiting_client", "paid", "written_off"]
AttemptStatus = Literal["submitting", "succeeded", "declined", "error"]


class RecoveryRow(msgspec.Struct, frozen=True, kw_only=True):
    charge_id: uuid.UUID
    client_id: uuid.UUID
    decline_class: DeclineClass
    status: RecoveryStatus
    failures: int
    first_failed_at: datetime
    written_off_cents: int | None
    written_off_at: datetime | None


class AttemptRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    charge_id: uuid.UUID
    payment_method_id: str
    retry: int
    call: int
    status: AttemptStatus
    lease_until: datetime | None
    prior_charge: str | None


class FollowUpChargeJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `follow_up_charge`: a charge that did not go through (its id)."""

    job: ClassVar[str] = "follow_up_charge"
    charge_id: uuid.UUID


class RetryChargeJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `retry_charge`: the k-th retry of a soft-declined charge."""

    job: ClassVar[str] = "retry_charge"
    charge_id: uuid.UUID
    retry: int


class WriteOffChargeJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `write_off_charge`: a charge unpaid `bad_debt_after_days` on."""

    job: ClassVar[str] = "write_off_charge"
    charge_id: uuid.UUID


class ChargeNoticeJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `send_charge_notice`: the email of a charge's n-th failure."""

    job: ClassVar[str] = "send_charge_notice"
    charge_id: uuid.UUID
    failure: int


class PayChargeIn(Base):
    """Optional: a saved card to confirm with on the server (on-session); without it the
    client secret is confirmed by Stripe.js, with a saved card or another one."""

    payment_method_id: Annotated[str, msgspec.Meta(pattern=r"^pm_[A-Za-z0-9_]{1,250}$")] | None = (
        None
    )


class ChargePaymentOut(Out):
    """What Stripe.js needs to pay a charge on-session, and where the payment stands."""

    charge_id: uuid.UUID
    amount_cents: int
    currency: str
    charge_status: ChargeStatus
    payment_intent_id: str | None
    # The PaymentIntent's own status (requires_payment_method, requires_action, succeeded...).
    intent_status: str | None
    client_secret: str | None
    decline_code: str | None


# Stripe's dispute statuses; won, lost, warning_closed and prevented are final.
DisputeStatus = Literal[
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
    "under_review", "won", "lost", "prevented",
]  # fmt: skip
DISPUTE_CLOSED: Final = ("won", "lost", "warning_closed", "prevented")
DisputeAction = Literal["collect", "write_off"]


class DisputeOut(Out):
    """A Stripe dispute of one of our charges, with the money it moved as Stripe reports it."""

    id: uuid.UUID
    stripe_dispute_id: str
    charge_id: uuid.UUID
    client_id: uuid.UUID
    status: DisputeStatus
    reason: str
    amount_cents: int
    evidence_due_by: datetime | None
    funds_withdrawn_cents: int
    fee_cents: int
    funds_reinstated_cents: int
    fee_returned_cents: int
    outcome: str | None
    closed_at: datetime | None
    resolution: DisputeAction | None
    resolution_note: str | None
    resolved_at: datetime | None
    balance_charge_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class DisputeResolutionIn(Base, kw_only=True):
    """What ops decide for a lost dispute's amount: collect it from the client (a balance due,
    never charged to the card by itself) or write it off (bad debt)."""

    action: DisputeAction
    note: LongText


# A queue's rows: open (waiting for ops) or resolved.
QueueState = Literal["open", "resolved"]
FailedRefundAction = Literal["refunded_elsewhere", "kept_as_credit"]


class FailedRefundOut(Out):
    """A refund that did not reach the client: they are owed its amount until ops resolve it."""

    id: uuid.UUID
    refund_id: uuid.UUID
    client_id: uuid.UUID
    charge_id: uuid.UUID
    true_up_id: uuid.UUID
    true_up_status: str
    amount_cents: int
    failure_reason: str
    resolution: FailedRefundAction | None
    resolution_note: str | None
    resolved_at: datetime | None
    created_at: datetime


class FailedRefundResolutionIn(Base, kw_only=True):
    """refunded_elsewhere: paid by check or bank transfer (Dr client_receivable, Cr bank);
    kept_as_credit: it settles the client's next balance (nothing booked)."""

    action: FailedRefundAction
    note: LongText


PaymentExceptionKind = Literal["second_intent", "amount_differs"]
PaymentExceptionAction = Literal["book", "dismiss"]


class PaymentExceptionOut(Out):
    """A capture Hearth would not book by itself, with Stripe's figures."""

    id: uuid.UUID
    charge_id: uuid.UUID
    client_id: uuid.UUID
    kind: PaymentExceptionKind
    payment_intent_id: str
    stripe_charge_id: str
    expected_cents: int
    captured_cents: int
    fee_cents: int
    net_cents: int
    resolution: PaymentExceptionAction | None
    resolution_note: str | None
    resolved_at: datetime | None
    created_at: datetime


class PaymentExceptionResolutionIn(Base, kw_only=True):
    """book: the capture is the charge's (card_captured with Stripe's figures; only when the
    charge has no capture booked); dismiss: handled at Stripe (refunded, say), nothing booked."""

    action: PaymentExceptionAction
    note: LongText


# --- What the client sees of their money, and what ops see of failed payments (issue 17 item 7;
# services/payments/statements.py). Amounts are cents; a signed amount is + when it adds to what
# the client owes and - when it takes from it (a payment, a refund owed back).

StatementLineKind = Literal["session", "insurer", "payment", "refund", "other"]


class ClientChargeOut(Out):
    """One charge to the client's card, in words: what it was for, how it went."""

    id: uuid.UUID
    created_at: datetime
    kind: ChargeKind
    what_for: str  # "Session on 2026-11-03 with Dana Reyes: estimated share", ...
    session_id: uuid.UUID | None
    session_date: date | None
    provider_name: str | None
    true_up_reason: str | None  # a true-up's: what the insurer decided
    amount_cents: int
    status: ChargeStatus
    card_brand: str | None
    card_last4: str | None
    failure: str | None  # why it did not go through, in words
    charged_at: datetime | None
    failed_at: datetime | None


class ClientRefundOut(Out):
    id: uuid.UUID
    created_at: datetime
    charge_id: uuid.UUID
    what_for: str
    session_id: uuid.UUID | None
    session_date: date | None
    provider_name: str | None
    reason: str | None  # the true-up's: what the insurer decided
    amount_cents: int
    status: RefundStatus
    to_card: bool  # False: it reduced a balance due instead (no money moved)
    card_brand: str | None
    card_last4: str | None
    failure: str | None
    refunded_at: datetime | None


class ClientBalanceOut(Out):
    """What the client owes, read from the ledger (client_receivable): balance_cents =
    owed_now_cents + being_charged_cents + in_review_cents - being_refunded_cents - credit_cents."""

    client_id: uuid.UUID
    balance_cents: int  # the ledger's client_receivable: + owed, - owed to the client
    owed_now_cents: int  # due and not being charged: a balance due
    being_charged_cents: int  # charges queued or with Stripe (a true-up in its notice period)
    being_refunded_cents: int  # refunds with Stripe
    in_review_cents: int  # the insurer's figure Hearth reviews before it is owed
    credit_cents: int  # owed to the client, nothing under way
    written_off_cents: int  # balances Hearth wrote off (not owed any more)
    oldest_due_at: datetime | None  # the oldest charge still failed or a balance due


class StatementLineOut(Out):
    occurred_at: datetime
    kind: StatementLineKind
    description: str
    amount_cents: int  # signed: + adds to what the client owes
    session_id: uuid.UUID | None
    session_date: date | None
    provider_name: str | None


class StatementSessionOut(Out):
    """A session the month's lines touch, with what each part did to the client's balance."""

    session_id: uuid.UUID
    session_date: date | None
    provider_name: str | None
    estimate_cents: int  # the estimated share billed (and its corrections) this month
    insurer_adjustment_cents: int  # true-ups: + owed more, - owed back
    paid_cents: int  # card payments for it (negative: they reduce the balance)
    refunded_cents: int  # refunds for it (positive: they add back to the balance)


class StatementTotalsOut(Out):
    sessions_cents: int
    insurer_cents: int
    payments_cents: int
    refunds_cents: int
    other_cents: int


class StatementOut(Out):
    """A month of the client's account in the platform's time zone: closing = opening + Σ lines
    (= opening + Σ totals); both balances are the ledger's client_receivable."""

    client_id: uuid.UUID
    month: str  # YYYY-MM
    time_zone: str
    period_start: datetime
    period_end: datetime  # exclusive
    opening_balance_cents: int
    closing_balance_cents: int
    totals: StatementTotalsOut
    sessions: list[StatementSessionOut]
    lines: list[StatementLineOut]


class FailedChargeRow(Out):
    """A charge that did not go through, as stored."""

    id: uuid.UUID
    created_at: datetime
    client_id: uuid.UUID
    client_name: str
    kind: ChargeKind
    amount_cents: int
    status: ChargeStatus
    failure_code: str | None
    decline_code: str | None
    failed_at: datetime | None
    attempt: int
    credit_applied_cents: int  # what the client's credit settled of it (recovery then `paid`)
    # Its recovery (services/payments/recovery.py): retrying, awaiting_client, paid,
    # written_off, and the decline's class (soft, hard, authentication, no_card); None until
    # the follow-up job ran.
    recovery_status: str | None
    decline_class: str | None


class FailedChargeOut(FailedChargeRow):
    """A charge that did not go through (ops: GET /payments/failed), why in words."""

    failure: str


class BalanceDueOut(Out):
    """One client's balance due (ops: GET /payments/balances-due), oldest first."""

    client_id: uuid.UUID
    client_name: str
    owed_now_cents: int
    balance_cents: int
    being_charged_cents: int
    failed_charges: int
    oldest_due_at: datetime  # the oldest charge of theirs still failed or a balance due


class StatementEmailJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `send_statement_email`: ids, an amount and instants only (no
    PHI). kind true_up_notice: a true-up the client owes amount_cents of (net of a credit),
    charged at charge_at (None: not charged, a balance due); monthly: the statement of
    `month` (YYYY-MM)."""

    job: ClassVar[str] = "send_statement_email"
    kind: Literal["true_up_notice", "monthly"]
    client_id: uuid.UUID
    true_up_id: uuid.UUID | None = None
    amount_cents: int | None = None
    charge_at: datetime | None = None
    month: str | None = None
