"""Good Faith Estimates (No Surprises Act) for self-pay and out-of-network clients."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.common import Base, Out
from schemas.payers import CptCode

GoodFaithReason = Literal["self_pay", "out_of_network", "requested"]
ExpectedSessions = Annotated[int, Meta(ge=1, le=366)]


class GoodFaithLine(msgspec.Struct, frozen=True, kw_only=True):
    """One estimated service: its code, the provider's self-pay rate, how many are expected."""

    cpt_code: str
    description: str
    unit_cents: int
    quantity: int
    total_cents: int


class GoodFaithDocument(msgspec.Struct, frozen=True, kw_only=True):
    """Who and where, frozen as issued (the text of the estimate is written from it)."""

    client_name: str
    client_date_of_birth: date
    provider_name: str
    provider_npi: str
    place_of_service: str
    location: str
    # Known at booking only when the provider recorded them before; usually none yet.
    diagnosis_codes: list[str]
    first_session: date
    frequency: str


class GoodFaithEstimateOut(Out):
    id: uuid.UUID
    course_id: uuid.UUID
    version: int
    client_id: uuid.UUID
    provider_id: uuid.UUID
    reason: GoodFaithReason
    therapy_session_id: uuid.UUID | None
    period_start: date
    period_end: date
    expected_sessions: int
    lines: list[GoodFaithLine]
    document: GoodFaithDocument
    total_cents: int
    issued_by: uuid.UUID | None
    created_at: datetime  # when it was issued
    superseded_at: datetime | None
    emailed_at: datetime | None
    exceeded_at: datetime | None


class GoodFaithExceededOut(Out):
    """A course billed $400 or more above its current estimate: the client may dispute."""

    estimate_id: uuid.UUID
    course_id: uuid.UUID
    client_id: uuid.UUID
    provider_id: uuid.UUID
    period_start: date
    period_end: date
    total_cents: int
    billed_cents: int
    exceeded_by_cents: int
    exceeded_at: datetime
    created_at: datetime
    id: uuid.UUID  # the estimate's (the queue's keyset)


class GoodFaithRequestIn(Base, kw_only=True):
    """An estimate on request: a client for themself (client_id may be left out), a provider
    for their own client, ops naming both. Defaults: 90837, weekly for 12 months from today."""

    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    cpt_code: CptCode | None = None
    expected_sessions: ExpectedSessions | None = None
    first_session: date | None = None


class GoodFaithEmailJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `send_good_faith_estimate`: the estimate's id only (no PHI)."""

    job: ClassVar[str] = "send_good_faith_estimate"
    estimate_id: uuid.UUID
