"""The ops daily digest (issue 16 item 8): one day's 835s and the work waiting for ops."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from schemas.claims import ClaimStatus
from schemas.common import Out


class EraDayOut(Out):
    """The 835s received on the day: files, payments, claims and their amounts (signed: a
    reversal counts negative in paid and patient responsibility)."""

    files: int
    payments: int
    claims: int
    paid_cents: int  # Σ CLP04
    provider_adjustment_cents: int  # Σ PLB (positive lowered the payments)
    patient_responsibility_cents: int  # Σ PR at both levels
    denied_claims: int
    denied_charge_cents: int  # what the denied claims billed
    loss_cents: int  # what denials and denied lines cost the platform (before recoupment)
    reversals: int
    reversed_cents: int  # what the reversals took back (Σ their CLP04, negated)


class RemittanceQueuesOut(Out):
    """The remittance ops queue when the digest was made."""

    needs_ops: int  # every remitted claim waiting on ops
    unmatched: int  # of which no claim of ours has the CLP01
    true_ups_in_review: int  # client true-ups with PR reasons ops confirm first (not PR-1/2/3)
    refused_files: int  # 835s the clearinghouse served that we refused, not yet resolved
    awaiting_correction: int  # reversals with no correction past reversal_correction_days


class FilingDeadlineItem(Out):
    claim_id: uuid.UUID
    claim_number: str
    payer_id: uuid.UUID
    status: ClaimStatus
    service_date: date
    filing_deadline: date


class ClaimQueuesOut(Out):
    """The claims' ops work when the digest was made."""

    needs_ops: int  # the claims ops queue (flags raised and not cleared)
    rejected: int  # rejected claims awaiting their corrected resend
    deadlines_within_days: int  # the window: deadline on or before the day plus this
    deadlines_near: int  # claims not yet accepted whose filing deadline falls in the window
    soonest: list[FilingDeadlineItem]  # the few with the soonest deadlines (passed ones first)


class ReviewOut(Out):
    remittance: RemittanceQueuesOut
    claims: ClaimQueuesOut
    coverage_holds: int  # confirmed sessions held for a carve-out or unknown coverage


class OpsDigestOut(Out):
    """One day's digest: the day is a UTC calendar day (the platform's, as clock.today()).
    `eras` are that day's; `review` counts the queues as they stood at `generated_at`."""

    day: date
    generated_at: datetime
    eras: EraDayOut
    review: ReviewOut


class StoredDigestRow(Out):
    id: uuid.UUID
    day: date
    created_at: datetime  # when the job (or first run) stored it


class StoredDigestOut(Out):
    id: uuid.UUID
    day: date
    created_at: datetime
    digest: OpsDigestOut
