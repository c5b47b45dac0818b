"""The accumulators an estimate reads: which remaining figure applies, plan years, resets."""

from __future__ import annotations

import calendar
from datetime import date

from schemas.eligibility import Accumulator, Benefits, Cents, Network, TierBenefits
from schemas.estimates import AccumulatorState, Basis, Figure, Remaining

LIFETIME = ("lifetime", "lifetime_remaining")


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


def _anniversary(anchor: date, year: int) -> date:
    # A plan year ending 29 February ends on 28 February in common years, 29 in leap years.
    last = calendar.monthrange(year, anchor.month)[1]
    return date(year, anchor.month, min(anchor.day, last))


def year_end_holding(anchor: date, day: date) -> date:
    """The end of the plan year holding `day`, plan years ending on `anchor`'s day each year."""
    end = _anniversary(anchor, day.year)
    return end if day <= end else _anniversary(anchor, day.year + 1)


def _pick(found: list[Remaining]) -> Remaining | None:
    # With individual and family figures, the smaller applies (the family's may run out
    # first); on a tie the individual figure is named.
    if len(found) == 2:
        smaller, larger = sorted(found, key=lambda r: (r.value, r.basis != "individual"))
        return Remaining(
            value=smaller.value, source=smaller.source, basis=smaller.basis, other=larger.value
        )
    return found[0] if found else None


def _remaining(acc: Accumulator) -> Remaining | None:
    pairs: tuple[tuple[Cents | None, Basis], ...] = (
        (acc.remaining, "individual"),
        (acc.family_remaining, "family"),
    )
    found = [
        Remaining(value=figure.cents, source=figure.source, basis=basis)
        for figure, basis in pairs
        if figure is not None
    ]
    if found:
        return _pick(found)
    full = _full(acc)
    return (
        None
        if full is None
        else Remaining(value=full.value, source=full.source, basis="assumed_total")
    )


def _full(acc: Accumulator) -> Remaining | None:
    """The plan year's total: the smaller of the individual and family totals given."""
    found = [
        Remaining(value=total.cents, source=total.source, basis="reset")
        for total in (acc.total, acc.family_total)
        if total is not None
    ]
    return _pick(found)


def _resettable(acc: Accumulator) -> bool:
    """Each remaining figure (IND, FAM) has the plan-year total it resets to."""
    return (acc.remaining is None or acc.total is not None) and (
        acc.family_remaining is None or acc.family_total is not None
    )


def initial_state(benefits: Benefits, network: Network, as_of: date) -> AccumulatorState:
    """The tier's remaining figures as the 271 gave them, as of `as_of` (the check's date)."""
    tier = tier_of(benefits, network)
    remaining, limit = tier.visits_remaining, tier.visit_limit
    visits = None
    if remaining is not None:
        visits = Remaining(value=remaining.value, source=remaining.source, basis="individual")
    elif limit is not None:
        visits = Remaining(value=limit.value, source=limit.source, basis="assumed_total")
    return AccumulatorState(
        network=network,
        year_end=plan_year_end(benefits, as_of),
        deductible=_remaining(tier.deductible),
        out_of_pocket=_remaining(tier.out_of_pocket),
        visits=visits,
    )


def reset_state(
    benefits: Benefits, state: AccumulatorState, session_date: date
) -> AccumulatorState:
    """The state of the plan year holding `session_date`: full totals and the full visit limit.

    A figure the 271 gave only as a remaining amount has no total to reset to: it is `unknown`
    in the new plan year (assuming none would undercharge). A lifetime visit limit carries over.
    """
    anchor = benefits.plan_end or state.year_end
    tier = tier_of(benefits, state.network)
    unknown: list[Figure] = []
    if not _resettable(tier.deductible):
        unknown.append("deductible")
    if not _resettable(tier.out_of_pocket):
        unknown.append("out_of_pocket")
    limit = tier.visit_limit
    visits: Remaining | None
    if tier.visit_limit_period in LIFETIME:
        visits = state.visits  # a lifetime limit does not start anew with the plan year
    elif tier.visits_remaining is not None and limit is None:
        unknown.append("visits")
        visits = None
    else:
        visits = (
            None
            if limit is None
            else Remaining(value=limit.value, source=limit.source, basis="reset")
        )
    return AccumulatorState(
        network=state.network,
        year_end=year_end_holding(anchor, session_date),
        deductible=None if "deductible" in unknown else _full(tier.deductible),
        out_of_pocket=None if "out_of_pocket" in unknown else _full(tier.out_of_pocket),
        visits=visits,
        unknown=tuple(unknown),
    )


def less(remaining: Remaining | None, used: int) -> Remaining | None:
    if remaining is None or used == 0:
        return remaining
    value, other = remaining.value - used, remaining.other
    if other is not None:
        other = other - used if other > used else 0
    return Remaining(
        value=value if value > 0 else 0,
        source=remaining.source,
        basis=remaining.basis,
        other=other,
    )


def consume(
    state: AccumulatorState, *, deductible: int, out_of_pocket: int, visits: int
) -> AccumulatorState:
    """The state after a session used these amounts."""
    return AccumulatorState(
        network=state.network,
        year_end=state.year_end,
        deductible=less(state.deductible, deductible),
        out_of_pocket=less(state.out_of_pocket, out_of_pocket),
        visits=less(state.visits, visits),
        unknown=state.unknown,
    )
