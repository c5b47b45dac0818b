"""Benefits read from an X12 271, as the estimate engine and the API see them.

Every figure names the service type it came from: `MH` (mental health) when the payer's MH
lines give it, else `30` (health benefit plan coverage). Money is integer cents; coinsurance
is a Decimal fraction (EB08 `.2` is Decimal("0.2")), never a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import msgspec

Source = Literal["MH", "30"]
Network = Literal["in", "out"]

# What the payer's answer says about the plan: `unknown` when no EB01 1-8 applies to MH or 30
# (only R, L, MC, B...): never reported as active or inactive, the estimate says to call the payer.
CoverageStatus = Literal["active", "inactive", "rejected", "unknown"]

# The time period a benefit figure is stated for (EB06, or HSD05 for a visit limit), by name.
Period = Literal[
    "hour",  # 6
    "day",  # 7
    "24_hours",  # 13
    "years",  # 21
    "service_year",  # 22
    "calendar_year",  # 23
    "year_to_date",  # 24
    "contract",  # 25
    "episode",  # 26
    "visit",  # 27
    "outlier",  # 28
    "remaining",  # 29
    "exceeded",  # 30
    "not_exceeded",  # 31
    "lifetime",  # 32
    "lifetime_remaining",  # 33
    "month",  # 34
    "week",  # 35
    "admission",  # 36
]


class Cents(msgspec.Struct, frozen=True, kw_only=True):
    """An amount and the service type whose EB segment gave it."""

    cents: int
    source: Source


class Fraction(msgspec.Struct, frozen=True, kw_only=True):
    value: Decimal  # 0 <= value <= 1
    source: Source


class Count(msgspec.Struct, frozen=True, kw_only=True):
    value: int
    source: Source


class Accumulator(msgspec.Struct, frozen=True, kw_only=True):
    """A deductible or out-of-pocket maximum: the plan year's total and what remains.

    `remaining` is the payer's EB06 29 figure, or total minus a year-to-date (24) figure.
    Individual (IND) and family (FAM) are kept apart; the estimate uses the individual total
    and the smaller of the two remaining amounts.
    """

    total: Cents | None = None
    remaining: Cents | None = None
    family_total: Cents | None = None
    family_remaining: Cents | None = None


class TierBenefits(msgspec.Struct, frozen=True, kw_only=True):
    """What one network tier (in or out of network) pays for a psychotherapy visit."""

    covered: bool = False  # an active-coverage line (EB01 1) applies to this tier
    copay: Cents | None = None  # EB01 B: charged per visit, whatever period the payer names
    copay_period: Period | None = None  # the copay's EB06 (None: absent, which means per visit)
    coinsurance: Fraction | None = None  # the member's share (EB01 A)
    deductible: Accumulator = Accumulator()
    out_of_pocket: Accumulator = Accumulator()
    visit_limit: Count | None = None  # visits allowed in the period
    visits_remaining: Count | None = None
    visit_limit_period: Period | None = None  # the limit's period (HSD05, else EB06)
    prior_auth_required: bool | None = None  # EB11: Y True, N False, U or absent None


class CarveOut(msgspec.Struct, frozen=True, kw_only=True):
    """Mental health is handled by another entity (loop 2120C/2120D): ask them instead."""

    name: str
    entity_code: str  # NM101: PR payer, VN vendor, ...
    identifier: str | None = None  # NM109
    phone: str | None = None  # PER TE, when given


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """An AAA segment: the loop it stood in, its reason code (AAA03) and follow-up (AAA04)."""

    loop: str  # "2100A", "2100B", "2100C", "2100D", "2110C", ...
    code: str
    follow_up: str | None = None
    transient: bool = False  # 42 unable to respond now, 80 no response received


class Benefits(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed 271 for one subscriber or dependant."""

    status: CoverageStatus
    trace: str  # our TRN02, returned as TRN*2
    member_id: str | None = None
    plan_name: str | None = None
    plan_begin: date | None = None  # DTP 346, or the start of DTP 291
    plan_end: date | None = None  # DTP 347, or the end of DTP 291; None: 31 December
    in_network: TierBenefits = TierBenefits()
    out_of_network: TierBenefits = TierBenefits()
    carve_out: CarveOut | None = None
    rejections: list[Rejection] = []
    # Explanations of fallbacks and ambiguities the parser met, for the explanation lines.
    notes: list[str] = []
    # Envelope mistakes read past (SE01 off by one, SE02 not matching ST02): nothing moves money
    # on a 271, so such a file is read, and the check keeps what was wrong with it.
    warnings: list[str] = []
