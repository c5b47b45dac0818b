"""What posting an 835 stored and booked, as the API answers it (services/remittance/service)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

import msgspec

from schemas.common import Out

RemittanceSource = Literal["upload", "clearinghouse"]
PostingStatus = Literal["posted", "already_posted"]
# What the 835 made of one CLP: a claim paid, partly paid (a loss or a denied line), denied,
# its payment reversed; a CO-18 duplicate (nothing changes); unmatched (no claim of ours has
# its CLP01) or held for ops (CLP02 23, 25 or unknown, a second payment for a claim...).
Outcome = Literal["paid", "partially_paid", "denied", "reversed", "duplicate", "unmatched", "ops"]


class RemittanceFileRow(Out):
    id: uuid.UUID
    sha256: str
    source: RemittanceSource
    created_at: datetime  # when it was received
    received_by: uuid.UUID | None
    byte_size: int
    transactions: int
    claims: int
    payment_cents: int


class PaymentRow(Out):
    id: uuid.UUID
    file_id: uuid.UUID
    position: int
    handling: str  # BPR01: I payment and remittance, H notification only
    amount_cents: int  # BPR02, signed
    method: str
    payment_date: date
    trace_number: str
    trace_originator: str
    payer_name: str
    payer_id: uuid.UUID | None
    claims: int
    paid_cents: int
    provider_adjustment_cents: int
    needs_ops: bool
    ops_reason: str | None
    posted_at: datetime


class PostedPaymentOut(Out):
    """One payment of an uploaded file: posted now, or by an earlier file (its trace)."""

    status: PostingStatus
    payment: PaymentRow


class RemittanceFileOut(Out):
    """POST /remittances: 201 when something was posted, 200 when everything already was."""

    status: PostingStatus
    file: RemittanceFileRow
    payments: list[PostedPaymentOut]


class AdjustmentRow(Out):
    level: Literal["claim", "line"]
    line_control_number: str | None
    group: str  # CO, PR, OA, PI
    code: str  # CARC
    amount_cents: int
    quantity: str | None
    remark_codes: list[str]  # RARCs of its level


class RemarkOut(Out):
    """A remark code (RARC) and what it means, in plain words."""

    code: str
    text: str


class AdjustmentOut(AdjustmentRow):
    """An adjustment with its group and CARC in plain words, and each of its remark codes."""

    group_text: str
    reason_text: str
    remarks: list[RemarkOut]


class RemittedClaimRow(Out):
    id: uuid.UUID
    payment_id: uuid.UUID
    ordinal: int
    patient_control_number: str
    status_code: str
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int | None  # CLP05
    patient_adjustments_cents: int  # Σ PR: what the client owes by the 835
    payer_claim_number: str
    claim_id: uuid.UUID | None
    outcome: Outcome
    reversal_of: uuid.UUID | None
    reversed_by: uuid.UUID | None
    contractual_cents: int
    loss_cents: int
    true_up_cents: int
    # The client's share booked before this 835, and the 835's share less it (adjudications
    # posted from migration 0030 on; None for reversals and what was not adjudicated).
    estimated_share_cents: int | None
    estimate_error_cents: int | None
    remark_codes: list[str]
    needs_ops: bool
    ops_reason: str | None


class RemittedClaimOut(Out):
    claim: RemittedClaimRow
    adjustments: list[AdjustmentOut]


class ProviderAdjustmentOut(Out):
    ordinal: int
    reason: str
    reference: str | None
    amount_cents: int
    claim_id: uuid.UUID | None
    account: str
    needs_ops: bool


class PaymentDetailOut(Out):
    payment: PaymentRow
    claims: list[RemittedClaimOut]
    provider_adjustments: list[ProviderAdjustmentOut]


class RemittanceTotals(Out):
    claims_matched: int
    claims_unmatched: int
    claims_for_ops: int
    paid_cents: int
    patient_responsibility_cents: int
    contractual_cents: int
    loss_cents: int


class RemittanceFileDetailOut(Out):
    file: RemittanceFileRow
    payments: list[PaymentDetailOut]
    totals: RemittanceTotals


class ClaimRemittanceItem(Out):
    trace_number: str
    payment_date: date
    remitted: RemittedClaimOut


class ClaimRemittanceOut(Out):
    """A claim's remittance: net paid and patient responsibility over every 835 that named it
    (a reversal cancels its original), and each remittance with its adjustments."""

    claim_id: uuid.UUID
    paid_cents: int
    patient_responsibility_cents: int
    items: list[ClaimRemittanceItem]


class RemittedClaimQueued(Out):
    """A remitted claim on the ops queue: what the 835 said and why ops must look."""

    id: uuid.UUID
    created_at: datetime  # when its payment was posted
    trace_number: str
    payment_date: date
    patient_control_number: str
    status_code: str
    paid_cents: int
    claim_id: uuid.UUID | None  # None: no claim of ours has its CLP01
    outcome: Outcome
    ops_reason: str | None


class FetchRemittancesJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `fetch_remittances`: the next 835s from one clearinghouse."""

    job: ClassVar[str] = "fetch_remittances"
    clearinghouse: str  # our receiver id there (settings.clearinghouse_receiver_id)


class RemittanceFetchQueuedOut(Out):
    """`POST /remittances/fetches`: whether a fetch of the clearinghouse's new 835s was queued
    now, or one was already open (queued, running or waiting to retry) and nothing was added."""

    clearinghouse: str  # our receiver id there
    queued: bool
