"""Therapy sessions: booking, cancelling, no-shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.common import Base, Out, text
from schemas.eligibility import CarveOut
from schemas.payers import CptCode, Modifier

SessionStatus = Literal["scheduled", "cancelled", "no_show", "confirmed"]
PlaceOfService = Literal["02", "10", "11"]
Duration = Annotated[int, Meta(ge=15, le=240)]
# An offset is required: the date of service is the date where the session takes place.
StartsAt = Annotated[datetime, Meta(tz=True)]


class BookSessionIn(Base, kw_only=True):
    """A client books for themself (client_id may be left out); ops and providers name both."""

    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    policy_id: uuid.UUID | None = None  # None: self-pay
    starts_at: StartsAt
    duration_minutes: Duration
    place_of_service: PlaceOfService


class CancelSessionIn(Base):
    reason: Annotated[str, text(500)]


class SessionOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    policy_id: uuid.UUID | None
    starts_at: datetime
    duration_minutes: int
    place_of_service: PlaceOfService
    status: SessionStatus
    cancelled_at: datetime | None
    cancel_reason: str | None
    cancelled_by: uuid.UUID | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    # Set by completion (status confirmed), None before.
    diagnosis_codes: list[str] | None = None
    started_at: datetime | None = None
    actual_minutes: int | None = None
    note_attested: bool | None = None
    confirmed_at: datetime | None = None
    confirmed_by: uuid.UUID | None = None
    prior_authorization_id: uuid.UUID | None = None  # whose visit the session used
    # Edits of the coding within the edit window (PATCH): how many, the last one's time and user.
    edit_count: int = 0
    edited_at: datetime | None = None
    edited_by: uuid.UUID | None = None


class SessionFilters(Out):
    """GET /therapy-sessions query filters, parsed by the route."""

    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    status: SessionStatus | None = None
    starts_from: datetime | None = None  # starts_at >= this
    starts_to: datetime | None = None  # starts_at < this


# ICD-10-CM as written by people: the format (and the dot, dropped) is the completion rules'.
Diagnosis = Annotated[str, text(8)]
Pointer = Annotated[int, Meta(ge=1, le=12)]


class ServiceLineIn(Base, kw_only=True):
    """One service line: a primary code or an add-on, pointing at 1-4 of the diagnoses."""

    cpt_code: CptCode
    modifiers: Annotated[list[Modifier], Meta(max_length=4)] = msgspec.field(default_factory=list)
    diagnosis_pointers: Annotated[list[Pointer], Meta(min_length=1, max_length=4)]


class CompleteSessionIn(Base, kw_only=True):
    """What the provider attests happened; the rules are services/therapy_sessions/rules.py."""

    lines: Annotated[list[ServiceLineIn], Meta(min_length=1, max_length=6)]
    diagnosis_codes: Annotated[list[Diagnosis], Meta(max_length=20)]
    place_of_service: PlaceOfService
    started_at: StartsAt
    duration_minutes: Annotated[int, Meta(ge=1, le=480)]
    note_attested: bool


class EditSessionIn(Base, kw_only=True):
    """A confirmed session's coding, corrected within the edit window: the fields given
    replace the session's (lines as a whole); every completion rule applies again."""

    lines: Annotated[list[ServiceLineIn], Meta(min_length=1, max_length=6)] | None = None
    diagnosis_codes: Annotated[list[Diagnosis], Meta(max_length=20)] | None = None
    place_of_service: PlaceOfService | None = None
    started_at: StartsAt | None = None
    duration_minutes: Annotated[int, Meta(ge=1, le=480)] | None = None


class ClaimCoding(Out):
    """A claim's coding as a correction leaves it, checked by the completion's rules."""

    lines: list[ServiceLineIn]
    diagnosis_codes: list[str]
    place_of_service: PlaceOfService


class RecordSessionIn(CompleteSessionIn, kw_only=True):
    """An unbooked session, recorded and completed at once (ops name the provider)."""

    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID
    policy_id: uuid.UUID | None = None  # None: self-pay


class SessionLineOut(Out):
    line_number: int
    cpt_code: str
    modifiers: list[str]
    diagnosis_pointers: list[int]


class CompletionOut(Out):
    session: SessionOut
    lines: list[SessionLineOut]
    claim_id: uuid.UUID | None = None  # None: self-pay or out of network (no claim)
    # Set when the benefit check says carve-out or cannot say: confirmed with no claim and no
    # charge, in ops' coverage queue until they settle it.
    billing_hold: BillingHold | None = None


# The coverage queue (DESIGN.md "Money": carve-out or unknown coverage, no charge and no claim).
BillingHold = Literal["carve_out", "unknown"]
Settlement = Literal["billed", "self_pay", "written_off"]


class CoverageHoldOut(Out):
    """A confirmed session on hold: the benefit check it was held on and who to ask."""

    id: uuid.UUID  # the session's
    provider_id: uuid.UUID
    client_id: uuid.UUID
    policy_id: uuid.UUID | None
    payer_id: uuid.UUID | None  # the policy's: who to call when the check cannot say
    started_at: datetime
    confirmed_at: datetime
    billing_hold: BillingHold
    held_since: datetime
    benefit_check_id: uuid.UUID | None
    benefit_check_status: str | None  # the check's: active, inactive, rejected, unknown
    carve_out: CarveOut | None  # mental health handled by another entity: ask them
    created_at: datetime  # the session's booking


class HeldSessionRow(Out):
    id: uuid.UUID
    billing_hold: BillingHold | None
    billing_hold_offset_minutes: int | None
    billing_settlement: Settlement | None


class SettleCoverageIn(Base, kw_only=True):
    """billed: a new benefit check says the plan covers it, book it as completion would;
    self_pay: the client pays the provider's self-pay rate; written_off: nothing is booked."""

    outcome: Settlement
    reason: Annotated[str, text(500)] | None = None  # required unless billed


class CoverageSettlementOut(Out):
    session_id: uuid.UUID
    billing_hold: BillingHold
    outcome: Settlement
    reason: str | None
    settled_by: uuid.UUID
    settled_at: datetime
    claim_id: uuid.UUID | None  # billed in network
