"""Inputs outside their range are refused, never computed (DESIGN.md "Estimates")."""

from __future__ import annotations

from schemas.eligibility import Accumulator, TierBenefits
from schemas.estimates import AccumulatorState, Remaining


class EstimateInputError(ValueError):
    """An input outside its range: `field` names it (the service answers 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EstimateInvariantError(RuntimeError):
    """The engine broke one of its own rules (a bug, never the caller's input)."""


def check_price(field: str, cents: int | None) -> None:
    if cents is not None and cents < 0:
        raise EstimateInputError(field, f"must not be negative (got {cents})")


def _accumulator(field: str, acc: Accumulator) -> None:
    for name, figure in (
        ("total", acc.total),
        ("remaining", acc.remaining),
        ("family_total", acc.family_total),
        ("family_remaining", acc.family_remaining),
    ):
        if figure is not None and figure.cents < 0:
            raise EstimateInputError(f"{field}.{name}", f"must not be negative ({figure.cents})")


def check_tier(field: str, tier: TierBenefits) -> None:
    """Coinsurance within 0-1; no negative copay, accumulator or visit count."""
    coinsurance = tier.coinsurance
    if coinsurance is not None:
        value = coinsurance.value
        if not (value.is_finite() and 0 <= value <= 1):
            raise EstimateInputError(
                f"{field}.coinsurance", f"must be a fraction from 0 to 1 (got {value})"
            )
    if tier.copay is not None and tier.copay.cents < 0:
        raise EstimateInputError(f"{field}.copay", f"must not be negative ({tier.copay.cents})")
    _accumulator(f"{field}.deductible", tier.deductible)
    _accumulator(f"{field}.out_of_pocket", tier.out_of_pocket)
    for name, count in (
        ("visit_limit", tier.visit_limit),
        ("visits_remaining", tier.visits_remaining),
    ):
        if count is not None and count.value < 0:
            raise EstimateInputError(f"{field}.{name}", f"must not be negative ({count.value})")


def _remaining(field: str, remaining: Remaining | None) -> None:
    if remaining is None:
        return
    if remaining.value < 0 or (remaining.other is not None and remaining.other < 0):
        raise EstimateInputError(field, "a remaining figure must not be negative")


def check_state(state: AccumulatorState) -> None:
    _remaining("state.deductible", state.deductible)
    _remaining("state.out_of_pocket", state.out_of_pocket)
    _remaining("state.visits", state.visits)
