"""The client true-up (the 835's patient responsibility against the estimate) and the
estimate accuracy ops read (issue 16 item 6; services/remittance/true_up*.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

import msgspec

from schemas.common import Base, Out, text

# ops_review: a PR reason other than 1/2/3 waits for ops; awaiting_correction: a reversal
# waiting for the correction that nets it; ready: the settle_true_up job's to do (and while
# its charge or refund is with Stripe); charged / refunded: the card charged, or the credit
# refunded to the completion charge or taken off its balance due (services/payments/true_ups.py);
# balance_due: the client owes it (no card, under 50 cents, or the charge failed); credit: the
# client is owed it (no charge to refund, the part beyond the charge, or the refund failed);
# closed: nothing left to settle.
TrueUpStatus = Literal[
    "ops_review",
    "awaiting_correction",
    "ready",
    "balance_due",
    "credit",
    "charged",
    "refunded",
    "closed",
]
TrueUpKind = Literal["adjudication", "reversal"]
TrueUpDecision = Literal["confirmed", "refused"]


class TrueUpOut(Out):
    """One true-up. amount_cents = delta - carried + netted: positive, the client owes more;
    negative, the client is owed a refund."""

    id: uuid.UUID
    claim_id: uuid.UUID
    client_id: uuid.UUID
    remitted_claim_id: uuid.UUID
    kind: TrueUpKind
    reverses_id: uuid.UUID | None
    estimate_cents: int
    share_cents: int  # the 835's patient responsibility (PR at both levels)
    delta_cents: int
    review_cents: int  # PR other than deductible, coinsurance and copay: ops decide it
    carried_cents: int  # the part ops refused: the platform carries it
    netted_cents: int  # the reversal(s) this row nets
    amount_cents: int
    status: TrueUpStatus
    reason: str
    netted_into_id: uuid.UUID | None
    decision: TrueUpDecision | None
    decision_note: str | None  # ops' own words: shown to ops only
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    ready_at: datetime | None
    settled_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TrueUpDecisionIn(Base, kw_only=True):
    """Ops confirm or refuse the part of a true-up no automatic rule may charge."""

    note: Annotated[str, text(2000)]


class SettleTrueUpJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `settle_true_up`: a ready true-up's id only (no PHI)."""

    job: ClassVar[str] = "settle_true_up"
    true_up_id: uuid.UUID


class AccuracyFigures(Out):
    """Standing first adjudications: the 835's client share against the estimate."""

    claims: int
    exact: int  # share equal to the estimate, to the cent
    exact_percent: Decimal | None  # two decimals; None without claims
    mean_absolute_error_cents: Decimal | None  # two decimals; None without claims
    error_sum_cents: int  # Σ (835 share - estimate): positive, clients owed more than estimated


class PayerAccuracy(Out):
    payer_id: uuid.UUID
    payer_name: str
    figures: AccuracyFigures


class EstimateAccuracyOut(Out):
    """GET /remittances/estimate-accuracy: from and to are the 835 payment dates, inclusive."""

    date_from: date
    date_to: date
    overall: AccuracyFigures
    payers: list[PayerAccuracy]
