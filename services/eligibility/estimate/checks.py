"""Inputs outside their range are refused, never computed (DESIGN.md "Estimates")."""

from __future__ import annotations

from schemas.eligibility import Accumulator, Cents, TierBenefits
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


def _negative(figure: Cents | None) -> bool:
    return figure is not None and figure.cents < 0


def _accumulator(field: str, what: str, acc: Accumulator) -> None:
    if not (
        _negative(acc.total)
        or _negative(acc.remaining)
        or _negative(acc.family_total)
        or _negative(acc.family_remaining)
    ):
        return
    for name, figure in (
        ("total", acc.total),
        ("remaining", acc.remaining),
        ("family_total", acc.family_total),
        ("family_remaining", acc.family_remaining),
    ):
        if figure is not None and figure.cents < 0:
            message = f"must not be negative ({figure.cents})"
            raise EstimateInputError(f"{field}.{what}.{name}", message)


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
    _accumulator(field, "deductible", tier.deductible)
    _accumulator(field, "out_of_pocket", tier.out_of_pocket)
    limit, left = tier.visit_limit, tier.visits_remaining
    if (limit is None or limit.value >= 0) and (left is None or left.value >= 0):
        return
    for name, count in (("visit_limit", limit), ("visits_remaining", left)):
        if count is not None and count.value < 0:
            raise EstimateInputError(f"{field}.{name}", f"must not be negative ({count.value})")


def _bad(remaining: Remaining | None) -> bool:
    if remaining is None:
        return False
    return remaining.value < 0 or (remaining.other is not None and remaining.other < 0)


def _remaining(field: str, remaining: Remaining | None) -> None:
    if _bad(remaining):
        raise EstimateInputError(field, "a remaining figure must not be negative")


def check_state(state: AccumulatorState) -> None:
    # The states the engine makes are never negative: a caller's state is checked once.
    if not (_bad(state.deductible) or _bad(state.out_of_pocket) or _bad(state.visits)):
        return
    _remaining("state.deductible", state.deductible)
    _remaining("state.out_of_pocket", state.out_of_pocket)
    _remaining("state.visits", state.visits)
