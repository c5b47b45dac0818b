"""The denial work queue and appeals (issue 16 item 5)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta

from schemas.claims import CorrectionOut
from schemas.common import Base, LongText, Out
from schemas.remittance_posting import AdjustmentOut

# A denial's reason: the group and CARC of its largest loss adjustment ("CO-197"), or "none"
# when the payer denied it (CLP02 4) without one.
REASON_PATTERN = r"^((CO|PI|OA|PR)-[A-Z0-9]{1,5}|none)$"
DenialReason = Annotated[str, Meta(pattern=REASON_PATTERN, max_length=8)]
ResolutionAction = Literal["resubmitted", "voided", "written_off", "appealed"]
DenialState = Literal["open", "resolved", "reversed"]
AppealStatus = Literal["open", "submitted", "won", "lost", "withdrawn"]
DeadlineSource = Literal["payer_window", "ops"]
Note = LongText


class DenialRow(Out):
    """One denial (a remitted claim the 835 denied in whole or in part), as the queue shows it."""

    id: uuid.UUID  # the remitted claim: the denial instance
    created_at: datetime  # when its 835 was posted
    claim_id: uuid.UUID
    claim_number: str
    provider_id: uuid.UUID
    provider_name: str
    payer_id: uuid.UUID
    payer_name: str
    service_date: date
    outcome: Literal["denied", "partially_paid"]
    status_code: str  # CLP02
    billed_cents: int  # CLP03
    paid_cents: int  # CLP04
    denied_cents: int  # the loss adjustments' total, as the payer wrote them
    loss_cents: int  # what posting booked to claim_losses
    reason: str
    remark_codes: list[str]  # claim level (MOA)
    payer_claim_number: str  # CLP07
    trace_number: str
    payment_date: date
    filing_deadline: date  # service date + the payer's timely_filing_days
    appeal_deadline: date  # payment date + the payer's appeal_window_days
    reversed: bool
    resolution_id: uuid.UUID | None
    # A replacement (7) or void (8) made through /claims since this denial's version.
    superseded_by: uuid.UUID | None
    superseded_frequency: Literal["7", "8"] | None
    superseded_at: datetime | None


class DenialItemOut(Out):
    denial: DenialRow
    adjustments: list[AdjustmentOut]  # every CARC with its RARCs, claim and line level


class DenialGroupOut(Out):
    reason: str
    count: int
    denied_cents: int
    loss_cents: int
    items: list[DenialItemOut]  # oldest first
    next_cursor: str | None  # GET /denials?reason=<reason>&cursor=...


class DenialQueueOut(Out):
    groups: list[DenialGroupOut]


class ResolutionOut(Out):
    id: uuid.UUID | None  # None: made through /claims, not the queue
    remitted_claim_id: uuid.UUID
    claim_id: uuid.UUID
    action: ResolutionAction
    note: str | None
    submission_id: uuid.UUID | None
    appeal_id: uuid.UUID | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime
    via: Literal["denial_queue", "claims"]


class AppealRow(Out):
    id: uuid.UUID
    claim_id: uuid.UUID
    remitted_claim_id: uuid.UUID
    deadline: date
    deadline_source: DeadlineSource
    status: AppealStatus
    created_at: datetime
    created_by: uuid.UUID
    updated_at: datetime
    updated_by: uuid.UUID
    submitted_at: datetime | None
    submitted_by: uuid.UUID | None
    closed_at: datetime | None
    closed_by: uuid.UUID | None


class AppealNoteOut(Out):
    id: int
    appeal_id: uuid.UUID
    kind: Literal["note", "status"]
    from_status: AppealStatus | None
    to_status: AppealStatus | None
    body: str | None
    author_id: uuid.UUID
    at: datetime


class AppealOut(Out):
    appeal: AppealRow
    notes: list[AppealNoteOut]  # oldest first


class DenialEventOut(Out):
    at: datetime
    kind: Literal["denied", "resolved", "appeal_note", "appeal_status", "reversed"]
    actor_id: uuid.UUID | None
    detail: str


class DenialDetailOut(Out):
    item: DenialItemOut
    state: DenialState
    resolution: ResolutionOut | None
    appeal: AppealOut | None
    history: list[DenialEventOut]  # oldest first


class CorrectedOut(Out):
    """A denial resolved by a replacement (7) or void (8): the resolution and the new version."""

    resolution: ResolutionOut
    correction: CorrectionOut


class WriteOffIn(Base, kw_only=True):
    note: Note


class AppealIn(Base, kw_only=True):
    note: Note
    deadline: date | None = None  # the payer's own, when it gave one; else the payer's window


class AppealedOut(Out):
    resolution: ResolutionOut
    appeal: AppealOut


class AppealPatch(Base, kw_only=True):
    status: AppealStatus
    note: Note | None = None


class AppealNoteIn(Base, kw_only=True):
    note: Note
