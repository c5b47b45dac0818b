"""Payers and their fee schedules."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.common import Base, Cents, Name, Out

# NM109 of the payer loop (2010BB): 2-80 alphanumerics; stored upper-case so "abc12" and
# "ABC12" cannot both exist.
X12PayerId = Annotated[str, Meta(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9]{2,80}$")]
TimelyFilingDays = Annotated[int, Meta(ge=1, le=3650)]
# Days after an 835's payment date the payer hears an appeal of its denial.
AppealWindowDays = Annotated[int, Meta(ge=1, le=3650)]
TelehealthModifier = Literal["95", "93", "GT"]
# SBR09 claim filing indicator: CI commercial, BL Blue Cross Blue Shield, HM HMO, MB Medicare
# Part B, MC Medicaid, 12 PPO, 13 POS, 14 EPO, CH Tricare, VA, WC workers' compensation.
FilingIndicator = Literal["CI", "BL", "HM", "MB", "MC", "12", "13", "14", "CH", "VA", "WC"]
# CPT (five digits, or four and a letter for Category II/III) or HCPCS Level II (a letter and four
# digits).
CPT_PATTERN = r"^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$"
CptCode = Annotated[str, Meta(min_length=5, max_length=5, pattern=CPT_PATTERN)]
CptCodes = Annotated[list[CptCode], Meta(max_length=500)]
Modifier = Annotated[str, Meta(min_length=2, max_length=2, pattern=r"^[0-9A-Z]{2}$")]


class PayerIn(Base, kw_only=True):
    name: Name
    x12_payer_id: X12PayerId
    timely_filing_days: TimelyFilingDays
    telehealth_modifier: TelehealthModifier | None = None
    prior_auth_cpt_codes: CptCodes = msgspec.field(default_factory=list)
    claim_filing_indicator: FilingIndicator = "CI"  # SBR09 of its claims
    appeal_window_days: AppealWindowDays = 180


class PayerPatch(Base, kw_only=True):
    """Only the fields sent change; `telehealth_modifier: null` clears it."""

    name: Name | UnsetType = UNSET
    x12_payer_id: X12PayerId | UnsetType = UNSET
    timely_filing_days: TimelyFilingDays | UnsetType = UNSET
    telehealth_modifier: TelehealthModifier | UnsetType | None = UNSET
    prior_auth_cpt_codes: CptCodes | UnsetType = UNSET
    claim_filing_indicator: FilingIndicator | UnsetType = UNSET
    appeal_window_days: AppealWindowDays | UnsetType = UNSET


class PayerOut(Out):
    id: uuid.UUID
    name: str
    x12_payer_id: str
    timely_filing_days: int
    telehealth_modifier: TelehealthModifier | None
    prior_auth_cpt_codes: list[str]
    claim_filing_indicator: FilingIndicator
    appeal_window_days: int
    created_at: datetime
    updated_at: datetime


class FeeScheduleIn(Base, kw_only=True):
    cpt_code: CptCode
    modifier: Modifier | None = None
    allowed_cents: Cents
    provider_rate_cents: Cents
    effective_from: date
    effective_to: date | None = None  # inclusive; None = open-ended


class EndFeeScheduleIn(Base):
    effective_to: date  # the last day the schedule applies (inclusive)


class FeeScheduleRateOut(Out):
    """What a provider sees: the rate the platform pays them, and when it applies."""

    id: uuid.UUID
    payer_id: uuid.UUID
    cpt_code: str
    modifier: str | None
    provider_rate_cents: int
    effective_from: date
    effective_to: date | None


class FeeScheduleOut(FeeScheduleRateOut):
    """What ops see: the payer's allowed amount and who created or ended the row, too."""

    allowed_cents: int
    created_at: datetime
    created_by: uuid.UUID
    ended_at: datetime | None
    ended_by: uuid.UUID | None


class FeeScheduleRate(Out):
    """The rate in force for one date of service (`modifier` '' = the row has no modifier)."""

    fee_schedule_id: uuid.UUID
    payer_id: uuid.UUID
    cpt_code: str
    modifier: str
    allowed_cents: int
    provider_rate_cents: int
    effective_from: date
    effective_to: date | None
