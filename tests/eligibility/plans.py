"""The demo world's plan shapes (briefs: issue 3 member list) as parsed Benefits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from schemas.eligibility import (
    Accumulator,
    Benefits,
    CarveOut,
    Cents,
    Count,
    Fraction,
    Rejection,
    Source,
    TierBenefits,
)

PLAN_BEGIN = date(2026, 1, 1)
PLAN_END = date(2026, 12, 31)
AS_OF = date(2026, 11, 2)


def cents(amount: int, source: Source = "MH") -> Cents:
    return Cents(cents=amount, source=source)


def fraction(value: str, source: Source = "MH") -> Fraction:
    return Fraction(value=Decimal(value), source=source)


def acc(total: int, remaining: int, source: Source = "MH") -> Accumulator:
    return Accumulator(total=cents(total, source), remaining=cents(remaining, source))


def active(in_network: TierBenefits, **extra: object) -> Benefits:
    return Benefits(
        status="active",
        trace="T1",
        plan_begin=PLAN_BEGIN,
        plan_end=PLAN_END,
        in_network=in_network,
        **extra,  # type: ignore[arg-type]
    )


JORDAN_LEE = active(TierBenefits(covered=True, copay=cents(3000), deductible=acc(50000, 0)))
CASEY_MORGAN = active(
    TierBenefits(covered=True, coinsurance=fraction(".2"), deductible=acc(50000, 0))
)
RILEY_CHEN = active(
    TierBenefits(
        covered=True,
        coinsurance=fraction(".2"),
        deductible=acc(100000, 0),
        out_of_pocket=acc(400000, 0),
    )
)
AVERY_PATEL = active(
    TierBenefits(
        covered=True,
        copay=cents(2500),
        deductible=acc(50000, 0),
        visit_limit=Count(value=20, source="MH"),
        visits_remaining=Count(value=2, source="MH"),
    )
)
QUINN_FOSTER = active(
    TierBenefits(covered=True, copay=cents(4000, "30"), deductible=acc(25000, 0, "30")),
    notes=["MH lines said nothing: figures from service type 30"],
)
KIM_FAMILY = active(
    TierBenefits(
        covered=True,
        coinsurance=fraction(".3"),
        deductible=Accumulator(
            total=cents(150000),
            remaining=cents(90000),
            family_total=cents(300000),
            family_remaining=cents(120000),
        ),
    )
)
MORGAN_DIAZ = Benefits(status="inactive", trace="T1", plan_end=date(2025, 12, 31))
SYDNEY_PARK = active(
    TierBenefits(covered=True, copay=cents(2000, "30")),
    carve_out=CarveOut(
        name="Mindful Behavioral Health", entity_code="PR", identifier="MBH01", phone="8005550199"
    ),
)
TAYLOR_BROOKS = active(
    TierBenefits(
        covered=True,
        coinsurance=fraction(".2"),
        deductible=acc(300000, 280000),
        out_of_pocket=acc(600000, 550000),
        prior_auth_required=True,
    )
)
JAMIE_RIVERA = Benefits(
    status="active",
    trace="T1",
    plan_begin=PLAN_BEGIN,
    plan_end=PLAN_END,
    out_of_network=TierBenefits(
        covered=True, coinsurance=fraction(".4"), deductible=acc(100000, 100000)
    ),
)
UNKNOWN_MEMBER = Benefits(
    status="rejected", trace="T1", rejections=[Rejection(loop="2100C", code="75", follow_up="C")]
)
PAYER_BUSY = Benefits(
    status="rejected",
    trace="T1",
    rejections=[Rejection(loop="2100A", code="42", follow_up="R", transient=True)],
)
