"""Credentialing per provider x payer: records, their transitions and history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from schemas.common import Base, Out, text

CredentialingStatus = Literal[
    "requested", "submitted", "in_review", "approved", "denied", "expired"
]
Reason = Annotated[str, text(1000)]


class CredentialingIn(Base, kw_only=True):
    provider_id: uuid.UUID
    payer_id: uuid.UUID
    reason: Reason | None = None


class TransitionIn(Base, kw_only=True):
    """`effective_on` and `ends_on` are set when approving; `ends_on` may shorten an expiry."""

    to_status: CredentialingStatus
    reason: Reason
    effective_on: date | None = None
    ends_on: date | None = None


class CredentialingOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    payer_id: uuid.UUID
    status: CredentialingStatus
    effective_on: date | None
    ends_on: date | None
    expiry_warned_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CredentialingEventOut(Out):
    id: int
    from_status: CredentialingStatus | None
    to_status: CredentialingStatus
    actor_user_id: uuid.UUID | None  # None: the system (the expiry job)
    reason: str
    at: datetime


class CredentialingDetailOut(CredentialingOut, kw_only=True):
    events: list[CredentialingEventOut]


class ExpiryRunOut(Out):
    """What one run of the expiry job changed."""

    expired: list[uuid.UUID]
    warned: list[uuid.UUID]
