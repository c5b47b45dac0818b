"""Therapy sessions: booking, cancelling, no-shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from schemas.common import Base, Out, text

SessionStatus = Literal["scheduled", "cancelled", "no_show"]
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


class SessionFilters(Out):
    """GET /therapy-sessions query filters, parsed by the route."""

    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    status: SessionStatus | None = None
    starts_from: datetime | None = None  # starts_at >= this
    starts_to: datetime | None = None  # starts_at < this
