"""The benefit-check and estimate API: requests and responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.common import Base, Cents, Out
from schemas.eligibility import Benefits
from schemas.estimates import Projection
from schemas.payers import CPT_PATTERN

CptCode = Annotated[str, Meta(min_length=5, max_length=5, pattern=CPT_PATTERN)]
CheckStatus = Literal["active", "inactive", "rejected", "unknown", "retry"]
_UUID_OR_EMPTY = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"


class RecheckJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `recheck_benefits`: ids only (no PHI in the outbox or Redis)."""

    job: ClassVar[str] = "recheck_benefits"
    policy_id: uuid.UUID
    # "" when the platform asks: rows have said so since the job began, and a field cannot be
    # decoded as a UUID or "" (two string types in one union).
    provider_id: Annotated[str, Meta(pattern=_UUID_OR_EMPTY)]

    @classmethod
    def of(cls, policy_id: uuid.UUID, provider_id: uuid.UUID | None) -> RecheckJob:
        return cls(policy_id=policy_id, provider_id=str(provider_id or ""))

    @property
    def provider(self) -> uuid.UUID | None:
        return uuid.UUID(self.provider_id) if self.provider_id else None


class BenefitCheckIn(Base, kw_only=True):
    policy_id: uuid.UUID
    # The provider the client will see (the 270's information receiver). A provider's own
    # check always names themself; ops may leave it out (the platform asks).
    provider_id: uuid.UUID | None = None
    service_date: date | None = None  # default: today
    refresh: bool = False  # ask the payer even if a fresh answer is on file


class BenefitCheckX12Out(Out, kw_only=True):
    id: uuid.UUID
    request_x12: str
    response_x12: str


class EstimateIn(Base, kw_only=True):
    policy_id: uuid.UUID
    provider_id: uuid.UUID
    cpt_code: CptCode
    sessions: Annotated[int, Meta(ge=1, le=52)] = 5
    first_session: date | None = None  # default: a week from today; then weekly
    refresh: bool = False


class EstimateOut(Out, kw_only=True):
    client_id: uuid.UUID
    provider_id: uuid.UUID
    policy_id: uuid.UUID
    payer_id: uuid.UUID
    cpt_code: str
    network: Literal["in", "out"]
    network_reason: str
    allowed_cents: int | None  # the payer's allowed amount: ops only (None for others)
    self_pay_cents: int | None
    out_of_network_allowed_cents: int | None
    benefit_check_id: uuid.UUID
    checked_at: datetime
    projection: Projection


class OutOfNetworkRateIn(Base):
    allowed_cents: Annotated[int, Meta(ge=1, le=100_000_000)]


class OutOfNetworkRateOut(Out, kw_only=True):
    payer_id: uuid.UUID
    cpt_code: str
    allowed_cents: Cents
    updated_at: datetime
    updated_by: uuid.UUID


class CheckContextRow(Out, kw_only=True):
    """What a 270 about one policy needs, read in one query."""

    policy_id: uuid.UUID
    client_id: uuid.UUID
    payer_id: uuid.UUID
    payer_name: str
    x12_payer_id: str
    member_id: str
    relationship: Literal["self", "spouse", "child", "other"]
    patient_member_id: str | None
    subscriber_first_name: str | None
    subscriber_last_name: str | None
    subscriber_date_of_birth: date | None
    subscriber_sex: Literal["F", "M", "U"] | None
    first_name: str
    last_name: str
    date_of_birth: date
    sex: Literal["F", "M", "U"]


class BenefitCheckRow(Out, kw_only=True):
    id: uuid.UUID
    policy_id: uuid.UUID
    client_id: uuid.UUID
    provider_id: uuid.UUID | None
    payer_id: uuid.UUID
    service_date: date
    status: CheckStatus
    benefits: Benefits
    requested_at: datetime
    completed_at: datetime
    duration_ms: int
    created_at: datetime


class BenefitCheckOut(BenefitCheckRow, kw_only=True):
    reused: bool = False  # a fresh answer on file was returned instead of asking again
    # The payer could not answer now (AAA 42/80): this is the last good answer, if any, and
    # the check is asked again later.
    retry_pending: bool = False
