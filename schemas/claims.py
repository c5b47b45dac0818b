"""Claims: what completion writes (status ready), with lines, versions and history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.common import Base, Out, text
from schemas.payers import FilingIndicator
from schemas.therapy_sessions import Diagnosis, PlaceOfService, ServiceLineIn

ClaimStatus = Literal[
    "ready",
    "submitted",
    "acknowledged",
    "accepted",
    "rejected",
    "voided",
    # What an 835 made of it (issue 16): paid, partly paid or denied, or its payment reversed.
    "paid",
    "partially_paid",
    "denied",
    "reversed",
]
Frequency = Literal["1", "7", "8"]
# What raised a claim's flag for ops (0023): the code that sees that condition end lowers it.
OpsKind = Literal[
    "unsendable",  # the claim cannot be written as an 837P (ops fix the data, then resolve)
    "envelope_refused",  # the clearinghouse refused the batch's envelope (ends at its receipt)
    "no_999",  # no 999 within claim_ack_timeout_hours (ends when the 999 comes)
    "no_277ca",  # no 277CA within claim_ack_timeout_hours (ends when the 277CA comes)
    "ack_unreadable",  # a 999 no rule decides (ends when the 277CA decides the claim)
    "ack_unexpected",  # another file came back where a 999 or 277CA was due
    "claim_unnamed",  # the 277CA does not name the claim
    "code_undecided",  # a 277CA code no rule decides
    "other",  # flagged before 0023 said why
]
OpsEvent = Literal["flagged", "cleared", "resolved"]


class ClaimLineIn(msgspec.Struct, frozen=True, kw_only=True):
    """A confirmed session's service line with the payer's allowed amount for it."""

    cpt_code: str
    modifiers: list[str]
    diagnosis_pointers: list[int]
    allowed_cents: int
    # The fee schedule's provider rate for the line: what it earns the provider, and so the
    # most a recoupment for its denial may take back from them.
    provider_rate_cents: int


class ClaimIn(msgspec.Struct, frozen=True, kw_only=True):
    """Built by completion from the confirmed session (never a request body)."""

    therapy_session_id: uuid.UUID
    payer_id: uuid.UUID
    policy_id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    service_date: date
    place_of_service: str
    diagnosis_codes: list[str]
    prior_authorization_id: uuid.UUID | None
    lines: list[ClaimLineIn]


class ClaimLineOut(Out):
    line_number: int
    cpt_code: str
    modifiers: list[str]
    charge_cents: int
    allowed_cents: int
    provider_rate_cents: int  # what the line earns the provider (providers and ops read it)
    units: int
    diagnosis_pointers: list[int]
    line_control_number: str


class ClaimOut(Out):
    id: uuid.UUID
    therapy_session_id: uuid.UUID
    payer_id: uuid.UUID
    policy_id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    claim_number: str
    clm01: str  # the current version's
    status: ClaimStatus
    service_date: date
    place_of_service: str
    diagnosis_codes: list[str]
    prior_authorization_id: uuid.UUID | None
    total_charge_cents: int
    allowed_cents: int
    created_at: datetime
    updated_at: datetime
    lines: list[ClaimLineOut] = []


# The claims API (issue 15 item 9): what providers, ops and clients read.


class ClaimHistoryOut(Out):
    from_status: str | None
    to_status: str | None  # None: an ops event, the status unchanged (from_status)
    reason: str  # a rejection's: the 999/277CA codes, for providers and ops only
    actor_user_id: uuid.UUID | None
    at: datetime
    ops_event: OpsEvent | None = None


class ClaimSummaryOut(Out):
    """A claim in a list: no diagnoses, no lines."""

    id: uuid.UUID
    therapy_session_id: uuid.UUID
    payer_id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    claim_number: str
    status: ClaimStatus
    service_date: date
    total_charge_cents: int
    filing_deadline: date  # service date + the payer's timely_filing_days
    filing_flagged_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RejectedClaimOut(ClaimSummaryOut, kw_only=True):
    """The rejected-claims queue: the latest rejection's reason and time, from the history."""

    reason: str
    rejected_at: datetime


class ClaimDetailOut(Out):
    """One claim with its lines, status history (oldest first) and filing deadline."""

    claim: ClaimOut
    filing_deadline: date
    filing_flagged_at: datetime | None
    history: list[ClaimHistoryOut]


class OpsFlagRow(Out):
    """A flag for ops as it stood when it was lowered."""

    claim_id: uuid.UUID
    kind: OpsKind
    reason: str
    since: datetime


class NeedsOpsClaimOut(ClaimSummaryOut, kw_only=True):
    """The needs-ops queue: a flagged claim, what raised the flag and since when."""

    ops_kind: OpsKind
    ops_reason: str
    ops_since: datetime


class OpsResolutionIn(Base):
    """Ops lower a claim's flag, saying what they did (kept in the claim's history)."""

    note: Annotated[str, text(500)]


class OpsResolutionOut(Out):
    claim_id: uuid.UUID
    kind: OpsKind  # the flag resolved
    reason: str
    flagged_since: datetime
    note: str
    resolved_by: uuid.UUID
    resolved_at: datetime


class ClaimVersionOut(Out):
    """A version of a claim (claim_submissions): the original, a corrected resend, 7 or 8."""

    id: uuid.UUID
    version: int
    frequency: str
    clm01: str
    created_at: datetime
    # The batch the version went out in (None: not sent yet) and that batch's files, so ops go
    # from a claim to its 837P, 999 and 277CA (GET /claim-batches/{batch_id}/files/{id}).
    batch_id: uuid.UUID | None = None
    file_ids: list[int] = []
    ack_codes: list[str] = []  # 999 IK5/IK3/IK4/CTX and every 277CA STC code, as applied
    payer_claim_number: str | None = None  # the payer's 277CA REF*1K
    accepted_on: date | None = None  # the payer's 277CA date: the proof of timely filing


class SessionClaimOut(Out):
    """A client's view of their session's claim: where it stands, no payer internals."""

    claim_id: uuid.UUID
    therapy_session_id: uuid.UUID
    status: ClaimStatus
    service_date: date
    status_since: datetime


class SubmitClaimsJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `submit_claims`: one payer's ready claims (ids only)."""

    job: ClassVar[str] = "submit_claims"
    payer_id: uuid.UUID
    # The queuer's hold cutoff: the job takes at least the claims it saw due, even when the
    # worker's clock runs behind the API's (another host, its clock a little behind).
    ready_before: datetime | None = None


class FetchClaimResultsJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `fetch_claim_results`: one sent batch's 999/TA1 and 277CA."""

    job: ClassVar[str] = "fetch_claim_results"
    batch_id: uuid.UUID


BatchStatus = Literal["pending", "sent"]


class ClaimBatchRow(msgspec.Struct, frozen=True, kw_only=True):
    """A batch as the submission and results jobs read it (its file is in claim_batch_files)."""

    id: uuid.UUID
    payer_id: uuid.UUID
    payload_id: uuid.UUID
    interchange_control: int
    group_control: int
    transaction_control: str
    status: BatchStatus
    sent_at: datetime | None
    ack_applied_at: datetime | None
    results_applied_at: datetime | None


class BatchClaimRow(msgspec.Struct, frozen=True, kw_only=True):
    """One claim version of a batch with what its 837P loops need (read across domains)."""

    claim_id: uuid.UUID
    clm01: str
    frequency: Frequency
    payer_claim_number: str | None  # REF*F8 of a 7 or 8: the latest one the payer gave
    total_charge_cents: int
    place_of_service: str
    diagnosis_codes: list[str]
    service_date: date
    prior_authorization: str | None
    payer_name: str
    x12_payer_id: str
    claim_filing_indicator: FilingIndicator
    member_id: str
    group_number: str | None
    relationship: Literal["self", "spouse", "child", "other"]
    subscriber_first_name: str | None
    subscriber_last_name: str | None
    subscriber_date_of_birth: date | None
    subscriber_sex: str | None
    patient_member_id: str | None
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str
    address_line1: str
    address_line2: str | None
    city: str
    state: str
    zip: str
    provider_npi: str
    provider_first_name: str
    provider_last_name: str
    provider_taxonomy: str
    facility_name: str | None
    facility_line1: str | None
    facility_line2: str | None
    facility_city: str | None
    facility_state: str | None
    facility_zip: str | None


class BatchLineRow(msgspec.Struct, frozen=True, kw_only=True):
    claim_id: uuid.UUID
    line_number: int
    cpt_code: str
    modifiers: list[str]
    charge_cents: int
    units: int
    diagnosis_pointers: list[int]
    line_control_number: str


class BatchMember(msgspec.Struct, frozen=True, kw_only=True):
    """A claim in a batch with its current status, as acknowledgements are applied to it."""

    claim_id: uuid.UUID
    submission_id: uuid.UUID
    clm01: str
    frequency: Frequency  # an accepted 8 makes the claim `voided`
    status: ClaimStatus


# Corrections (issue 15 item 6): the bodies of resend, replace and void.

Reason = Annotated[str, text(500)]


class ClaimCorrectionIn(Base, kw_only=True):
    """A resend (frequency 1) or a replacement (7): what changes, and why. A field left out
    keeps the claim's value; nothing given resends the claim as it is (the fix was elsewhere,
    e.g. ops corrected the policy's member id)."""

    reason: Reason
    diagnosis_codes: Annotated[list[Diagnosis], Meta(min_length=1, max_length=20)] | None = None
    lines: Annotated[list[ServiceLineIn], Meta(min_length=1, max_length=6)] | None = None
    place_of_service: PlaceOfService | None = None


class ClaimVoidIn(Base, kw_only=True):
    reason: Reason


class CorrectionOut(Out):
    """The claim after a correction, with the version it made."""

    claim: ClaimOut
    version: ClaimVersionOut


class ClaimVersionState(msgspec.Struct, frozen=True, kw_only=True):
    """What a correction needs to know of a claim's versions."""

    version: int
    payer_claim_number: str | None  # the latest one a payer's 277CA gave
    voided: bool  # a void (frequency 8) was made
    unsent_version: int | None = None  # a version waiting for the submission job, if any
