"""Client payments through Stripe: card on file, charges, webhook events (issue 17;
services/payments/)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Final, Literal

import msgspec

from schemas.common import Out

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
