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
