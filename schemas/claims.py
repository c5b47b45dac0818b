"""Claims: what completion writes (status ready), with lines, versions and history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import msgspec

from schemas.common import Out

ClaimStatus = Literal["ready", "submitted", "acknowledged", "accepted", "rejected"]


class ClaimLineIn(msgspec.Struct, frozen=True, kw_only=True):
    """A confirmed session's service line with the payer's allowed amount for it."""

    cpt_code: str
    modifiers: list[str]
    diagnosis_pointers: list[int]
    allowed_cents: int


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
    to_status: str
    reason: str  # a rejection's: the 999/277CA codes, for providers and ops only
    actor_user_id: uuid.UUID | None
    at: datetime


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


class ClaimVersionOut(Out):
    """A version of a claim (claim_submissions): the original, a corrected resend, 7 or 8."""

    id: uuid.UUID
    version: int
    frequency: str
    clm01: str
    created_at: datetime


class SessionClaimOut(Out):
    """A client's view of their session's claim: where it stands, no payer internals."""

    claim_id: uuid.UUID
    therapy_session_id: uuid.UUID
    status: ClaimStatus
    service_date: date
    status_since: datetime
