"""Client payments through Stripe: card on file, charges, webhook events (issue 17;
services/payments/)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from schemas.common import Base, Out

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
