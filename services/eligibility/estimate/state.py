"""The accumulators an estimate reads: which remaining figure applies, plan years, resets."""

from __future__ import annotations

from datetime import date

import msgspec

from schemas.eligibility import Accumulator, Benefits, Cents, Count, Network, TierBenefits
from schemas.estimates import AccumulatorState, Basis, Remaining


def tier_of(benefits: Benefits, network: Network) -> TierBenefits:
    return benefits.in_network if network == "in" else benefits.out_of_network


def has_benefit(tier: TierBenefits) -> bool:
    """An active-coverage line, or any cost-sharing figure, applies to this tier."""
    return tier.covered or tier.copay is not None or tier.coinsurance is not None


def choose_network(benefits: Benefits, *, provider_in_network: bool) -> Network:
    """In network when the provider is and the plan has an in-network benefit, else out.

    A plan with only out-of-network mental-health lines (EB12 N) pays nothing in network, so
    the client is estimated as out of network even with an in-network provider.
    """
    if not provider_in_network:
        return "out"
    if has_benefit(benefits.in_network) or not has_benefit(benefits.out_of_network):
        return "in"
    return "out"


def plan_year_end(benefits: Benefits, as_of: date) -> date:
    """DTP*347 when the 271 gave it, else 31 December of the year the figures are as of."""
    return benefits.plan_end if benefits.plan_end is not None else date(as_of.year, 12, 31)


def next_year_end(year_end: date) -> date:
    try:
        return year_end.replace(year=year_end.year + 1)
    except ValueError:  # 29 February
        return date(year_end.year + 1, 2, 28)


def _remaining(acc: Accumulator) -> Remaining | None:
    # With individual and family remaining amounts, the smaller applies (the family's may run
    # out first); on a tie the individual figure is named.
    pairs: tuple[tuple[Cents | None, Basis], ...] = (
        (acc.remaining, "individual"),
        (acc.family_remaining, "family"),
    )
    found = [
        Remaining(value=figure.cents, source=figure.source, basis=basis)
        for figure, basis in pairs
        if figure is not None
    ]
    if len(found) == 2:
        smaller, larger = sorted(found, key=lambda r: (r.value, r.basis != "individual"))
        return msgspec.structs.replace(smaller, other=larger.value)
    if found:
        return found[0]
    full = _full(acc)
    return (
        None
        if full is None
        else Remaining(value=full.value, source=full.source, basis="assumed_total")
    )


def _full(acc: Accumulator) -> Remaining | None:
    """The plan year's total: the individual one, else the family one."""
    total = acc.total if acc.total is not None else acc.family_total
    return (
        None if total is None else Remaining(value=total.cents, source=total.source, basis="reset")
    )


def _visits(remaining: Count | None, limit: Count | None, *, reset: bool) -> Remaining | None:
    if remaining is not None and not reset:
        return Remaining(value=remaining.value, source=remaining.source, basis="individual")
    if limit is None:
        return None
    basis: Basis = "reset" if reset else "assumed_total"
    return Remaining(value=limit.value, source=limit.source, basis=basis)


def initial_state(benefits: Benefits, network: Network, as_of: date) -> AccumulatorState:
    """The tier's remaining figures as the 271 gave them, as of `as_of` (the check's date)."""
    tier = tier_of(benefits, network)
    return AccumulatorState(
        network=network,
        year_end=plan_year_end(benefits, as_of),
        deductible=_remaining(tier.deductible),
        out_of_pocket=_remaining(tier.out_of_pocket),
        visits=_visits(tier.visits_remaining, tier.visit_limit, reset=False),
    )


def reset_state(
    benefits: Benefits, state: AccumulatorState, session_date: date
) -> AccumulatorState:
    """The state of the plan year holding `session_date`: full totals and the full visit limit."""
    year_end = state.year_end
    while session_date > year_end:
        year_end = next_year_end(year_end)
    tier = tier_of(benefits, state.network)
    return AccumulatorState(
        network=state.network,
        year_end=year_end,
        deductible=_full(tier.deductible),
        out_of_pocket=_full(tier.out_of_pocket),
        visits=_visits(None, tier.visit_limit, reset=True),
    )


def _less(remaining: Remaining | None, used: int) -> Remaining | None:
    if remaining is None or used == 0:
        return remaining
    other = None if remaining.other is None else max(0, remaining.other - used)
    return msgspec.structs.replace(remaining, value=max(0, remaining.value - used), other=other)


def consume(
    state: AccumulatorState, *, deductible: int, out_of_pocket: int, visits: int
) -> AccumulatorState:
    """The state after a session used these amounts."""
    return AccumulatorState(
        network=state.network,
        year_end=state.year_end,
        deductible=_less(state.deductible, deductible),
        out_of_pocket=_less(state.out_of_pocket, out_of_pocket),
        visits=_less(state.visits, visits),
    )
