"""Properties of the estimate engine over generated benefits (DESIGN.md "Estimates")."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

import msgspec
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from schemas.eligibility import (
    Accumulator,
    Benefits,
    Cents,
    Count,
    Fraction,
    Network,
    Period,
    Source,
    TierBenefits,
)
from schemas.estimates import (
    AccumulatorState,
    Projection,
    Remaining,
    SessionEstimate,
    SessionFigures,
)
from services.eligibility.estimate import (
    EstimateInputError,
    estimate_session,
    initial_state,
    project_sessions,
    reset_state,
)
from services.eligibility.estimate_view import render_projection, render_session

AS_OF = date(2026, 3, 2)
SOURCES: st.SearchStrategy[Source] = st.sampled_from(["MH", "30"])
AMOUNTS = st.integers(0, 1_000_000)  # up to $10,000
ALLOWED = st.integers(0, 60_000)
RATES = st.integers(0, 1000)  # coinsurance in thousandths: exact Decimals


def thousandths(n: int) -> Decimal:
    return Decimal(n) / 1000


PERIODS: st.SearchStrategy[Period | None] = st.sampled_from(
    [None, "visit", "calendar_year", "service_year", "remaining"]
)
FRACTIONS = st.builds(Fraction, value=RATES.map(thousandths), source=SOURCES)


def cents(value: st.SearchStrategy[int]) -> st.SearchStrategy[Cents]:
    return st.builds(Cents, cents=value, source=SOURCES)


@st.composite
def accumulators(draw: st.DrawFn) -> Accumulator:
    def pair() -> tuple[Cents | None, Cents | None]:
        total = draw(st.none() | cents(AMOUNTS))
        top = total.cents if total is not None else 1_000_000
        return total, draw(st.none() | cents(st.integers(0, top)))

    total, remaining = pair()
    family_total, family_remaining = pair()
    return Accumulator(
        total=total,
        remaining=remaining,
        family_total=family_total,
        family_remaining=family_remaining,
    )


@st.composite
def tiers(draw: st.DrawFn, *, visits: bool = True) -> TierBenefits:
    limit = draw(st.none() | st.integers(0, 30)) if visits else None
    left = draw(st.none() | st.integers(0, limit)) if limit is not None else None
    return TierBenefits(
        covered=True,
        # $0 copays often: beside a coinsurance they mean the coinsurance applies.
        copay=draw(st.none() | cents(st.just(0) | st.integers(0, 20_000))),
        copay_period=draw(PERIODS),
        coinsurance=draw(
            st.none() | st.builds(Fraction, value=RATES.map(thousandths), source=SOURCES)
        ),
        deductible=draw(accumulators()),
        out_of_pocket=draw(accumulators()),
        visit_limit=None if limit is None else Count(value=limit, source=draw(SOURCES)),
        visits_remaining=None if left is None else Count(value=left, source=draw(SOURCES)),
        prior_auth_required=draw(st.none() | st.booleans()),
    )


@st.composite
def benefits(draw: st.DrawFn, *, visits: bool = True) -> Benefits:
    plan_end = draw(st.none() | st.dates(date(2026, 3, 2), date(2027, 2, 28)))
    return Benefits(
        status="active",
        trace="T",
        plan_end=plan_end,
        in_network=draw(tiers(visits=visits)),
        out_of_network=draw(tiers(visits=visits)),
    )


def estimate(
    plan: Benefits, allowed: int, on: date, state: AccumulatorState | None = None
) -> SessionEstimate:
    figures = estimate_session(
        plan,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        session_date=on,
        state=state or initial_state(plan, "in", AS_OF),
    )
    return render_session(figures, full=True)


def out_of_network(
    plan: Benefits, self_pay: int, oon_allowed: int | None, state: AccumulatorState
) -> SessionFigures:
    return estimate_session(
        plan,
        network="out",
        allowed_cents=None,
        self_pay_cents=self_pay,
        oon_allowed_cents=oon_allowed,
        session_date=AS_OF,
        state=state,
    )


def project(plan: Benefits, allowed: int, count: int, network: Network = "in") -> Projection:
    figures = project_sessions(
        plan,
        network=network,
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(plan, network, AS_OF),
        start=AS_OF,
        count=count,
    )
    return render_projection(figures, full=True)


def reset_to(acc: Accumulator) -> int | str | None:
    """What a plan-year reset gives, from DESIGN: each remaining figure needs its total."""
    if (acc.remaining is not None and acc.total is None) or (
        acc.family_remaining is not None and acc.family_total is None
    ):
        return "unknown"
    totals = [t.cents for t in (acc.total, acc.family_total) if t is not None]
    return min(totals) if totals else None


def covered(session: SessionEstimate) -> bool:
    """Estimated, and not past a used-up visit limit."""
    before = session.before
    visits_left = before is None or before.visits is None or before.visits.value > 0
    return session.status == "estimated" and visits_left


@settings(deadline=None)
@given(benefits(), ALLOWED, st.dates(date(2026, 3, 2), date(2028, 12, 31)))
def test_shares_are_within_the_allowed_amount_and_sum_to_it(
    plan: Benefits, allowed: int, on: date
) -> None:
    result = estimate(plan, allowed, on)
    if result.status == "not_estimated":
        assert result.client_cents is None
        assert result.reason
        return
    assert result.client_cents is not None
    assert result.insurer_cents is not None
    assert 0 <= result.client_cents <= allowed
    assert result.client_cents + result.insurer_cents == allowed
    assert all(line.source in (None, "MH", "30") for line in result.lines)


@settings(deadline=None)
@given(st.integers(0, 200_000), RATES, SOURCES)
def test_coinsurance_rounds_half_up_to_the_cent(allowed: int, rate: int, source: Source) -> None:
    tier = TierBenefits(covered=True, coinsurance=Fraction(value=thousandths(rate), source=source))
    plan = Benefits(status="active", trace="T", in_network=tier)
    # Integer arithmetic: allowed x rate / 1000, halves up.
    assert estimate(plan, allowed, AS_OF).client_cents == (2 * allowed * rate + 1000) // 2000


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(2, 40))
def test_a_projected_session_never_costs_more_than_the_one_before(
    plan: Benefits, allowed: int, count: int
) -> None:
    # DESIGN states it while visits remain, the issue once the deductible is met; with one
    # allowed amount it holds from the first session: min(d, A) + copay-or-coinsurance on the
    # rest never grows as the remaining deductible d falls, and the cap only tightens.
    sessions = project(plan, allowed, count).sessions
    for earlier, later in pairwise(sessions):
        same_year = earlier.before and later.before
        if not (covered(earlier) and covered(later) and same_year):
            continue
        assert earlier.before is not None
        assert later.before is not None
        if later.before.year_end != earlier.before.year_end:
            continue
        assert later.client_cents is not None
        assert earlier.client_cents is not None
        assert later.client_cents <= earlier.client_cents


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 80))
def test_the_out_of_pocket_maximum_is_never_exceeded(
    plan: Benefits, allowed: int, count: int
) -> None:
    spent: dict[date, int] = {}
    start: dict[date, int] = {}
    for session in project(plan, allowed, count).sessions:
        before = session.before
        if before is None or before.out_of_pocket is None or not covered(session):
            continue
        start.setdefault(before.year_end, before.out_of_pocket.value)
        spent[before.year_end] = spent.get(before.year_end, 0) + (session.client_cents or 0)
    for year_end, total in spent.items():
        assert total <= start[year_end]


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 40))
def test_each_session_lowers_the_accumulators_by_what_it_used(
    plan: Benefits, allowed: int, count: int
) -> None:
    for session in project(plan, allowed, count).sessions:
        before, after, client = session.before, session.after, session.client_cents
        if not covered(session) or before is None or after is None or client is None:
            continue
        if before.out_of_pocket is not None and after.out_of_pocket is not None:
            assert before.out_of_pocket.value - after.out_of_pocket.value == client
        if before.deductible is not None and after.deductible is not None:
            applied = [line.amount_cents for line in session.lines if line.kind == "deductible"]
            assert applied[0] is not None
            used = before.deductible.value - after.deductible.value
            assert used == min(applied[0], client)
        if before.visits is not None and after.visits is not None:
            assert before.visits.value - after.visits.value == 1


@settings(deadline=None)
@given(benefits(visits=False), st.integers(1, 60_000), st.integers(0, 6), st.integers(1, 4))
def test_visit_limit_jump(plan: Benefits, allowed: int, left: int, extra: int) -> None:
    tier = plan.in_network
    plan = Benefits(
        status="active",
        trace="T",
        plan_end=date(2026, 12, 31),
        in_network=TierBenefits(
            covered=True,
            copay=tier.copay,
            coinsurance=tier.coinsurance or Fraction(value=Decimal("0.2"), source="MH"),
            deductible=tier.deductible,
            out_of_pocket=tier.out_of_pocket,
            visit_limit=Count(value=20, source="MH"),
            visits_remaining=Count(value=left, source="MH"),
        ),
    )
    sessions = project(plan, allowed, left + extra).sessions
    for session in sessions[:left]:
        assert session.after is not None
        assert session.before is not None
        assert session.before.visits is not None
        left_after = session.before.visits.value - 1
        assert session.after.visits == Remaining(value=left_after, source="MH", basis="individual")
    for session in sessions[left:]:
        assert (session.client_cents, session.insurer_cents) == (allowed, 0)
        assert session.before == session.after
        jump = [line for line in session.lines if line.kind == "visit_limit"]
        assert len(jump) == 1
        assert "used up" in jump[0].text
        assert jump[0].source == "MH"
    if left > 0:
        jumped, last_covered = sessions[left].client_cents, sessions[left - 1].client_cents
        assert jumped is not None
        assert last_covered is not None
        assert jumped >= last_covered


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 60), st.integers(1, 800))
def test_plan_year_reset(plan: Benefits, allowed: int, count: int, gap: int) -> None:
    first = initial_state(plan, "in", AS_OF)
    before_end = first.year_end - timedelta(days=1)
    dates = [min(AS_OF, before_end) + timedelta(weeks=i) for i in range(count)]
    dates.append(dates[-1] + timedelta(days=gap))
    figures = project_sessions(
        plan,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=first,
        dates=dates,
    )
    sessions = render_projection(figures, full=True).sessions
    year_end = first.year_end
    state = first
    for session in sessions:
        resets = [line for line in session.lines if line.kind == "plan_year_reset"]
        if session.session_date <= year_end:
            assert resets == []
        else:
            assert len(resets) == 1
            event("crossed a plan year's end")
            full = reset_state(plan, state, session.session_date)
            assert session.before == full
            tier = plan.in_network
            expected = {
                "deductible": reset_to(tier.deductible),
                "out_of_pocket": reset_to(tier.out_of_pocket),
                "visits": "unknown"
                if tier.visits_remaining is not None and tier.visit_limit is None
                else (tier.visit_limit.value if tier.visit_limit else None),
            }
            got: dict[str, int | str | None] = {
                "deductible": full.deductible.value if full.deductible else None,
                "out_of_pocket": full.out_of_pocket.value if full.out_of_pocket else None,
                "visits": full.visits.value if full.visits else None,
            }
            for figure in full.unknown:
                got[figure] = "unknown"
            assert got == expected
            assert session == estimate(plan, allowed, session.session_date, state)
            year_end = full.year_end
        if session.before is not None and session.before.unknown:
            # Remaining-only figures past the plan year: no estimate, and the reason says so.
            event("past the plan year with remaining-only figures")
            assert session.status == "not_estimated"
            assert "gave only what remains" in (session.reason or "")
        assert session.after is not None
        state = session.after


@settings(deadline=None)
@given(benefits(), st.integers(0, 60_000), st.none() | st.integers(0, 60_000))
def test_out_of_network_client_pays_the_rate(
    plan: Benefits, self_pay: int, oon_allowed: int | None
) -> None:
    result = out_of_network(plan, self_pay, oon_allowed, initial_state(plan, "out", AS_OF))
    assert (result.client_cents, result.insurer_cents, result.price_cents) == (
        self_pay,
        0,
        self_pay,
    )
    reimbursed = result.expected_reimbursement_cents
    if oon_allowed is None:
        assert reimbursed is None
        assert result.reason
    elif reimbursed is not None:
        assert 0 <= reimbursed <= min(self_pay, oon_allowed)


def half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reference_share(tier: TierBenefits, state: AccumulatorState, price: int) -> int:
    """DESIGN.md "Estimates" on its own: the member's share of `price`, as its text says."""
    if state.visits is not None and state.visits.value == 0:
        return price  # a used-up visit limit: the plan pays nothing
    applied = min(state.deductible.value, price) if state.deductible else 0  # none: none
    rest = price - applied
    copay, coinsurance = tier.copay, tier.coinsurance
    if coinsurance is not None and (copay is None or copay.cents == 0):
        share = half_up(rest * coinsurance.value)  # a $0 copay: the coinsurance applies
    elif copay is not None:
        share = min(copay.cents, rest)
    else:
        share = 0  # neither stated: nothing after the deductible
    total = applied + share
    return total if state.out_of_pocket is None else min(total, state.out_of_pocket.value)


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(0, 200))
def test_the_in_network_share_follows_the_policy(plan: Benefits, allowed: int, days: int) -> None:
    state = initial_state(plan, "in", AS_OF)
    on = min(AS_OF + timedelta(days=days), state.year_end)
    result = estimate(plan, allowed, on, state)
    assert result.status == "estimated"  # nothing missing refuses an estimate any more
    assert result.client_cents == reference_share(plan.in_network, state, allowed)
    assert result.insurer_cents == allowed - reference_share(plan.in_network, state, allowed)


@settings(deadline=None)
@given(benefits(), ALLOWED)
def test_every_assumption_is_an_explanation_line(plan: Benefits, allowed: int) -> None:
    state = initial_state(plan, "in", AS_OF)
    result = estimate(plan, allowed, AS_OF, state)
    if not covered(result):
        return
    assumed = [line.text for line in result.lines if line.kind == "missing"]
    assert all("not stated by the payer" in text for text in assumed)
    tier = plan.in_network
    expect = {
        "Deductible": state.deductible is None,
        "Copay and coinsurance": tier.copay is None and tier.coinsurance is None,
        "Out-of-pocket maximum": state.out_of_pocket is None,
    }
    for what, missing in expect.items():
        assert any(text.startswith(what) for text in assumed) == missing, (what, assumed)
    copay, coinsurance = tier.copay, tier.coinsurance
    kinds = [line.kind for line in result.lines]
    if coinsurance is not None and copay is not None and copay.cents == 0:
        assert "copay" not in kinds
        (line,) = [line for line in result.lines if line.kind == "coinsurance"]
        assert "$0.00 copay beside it means the coinsurance applies" in line.text
    periodic = tier.copay_period in ("calendar_year", "service_year")
    if copay is not None and periodic and "copay" in kinds:
        (line,) = [line for line in result.lines if line.kind == "copay"]
        assert "the payer states it per" in line.text


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 12))
def test_a_copay_is_never_more_than_the_rest_after_the_deductible(
    plan: Benefits, allowed: int, count: int
) -> None:
    for session in project(plan, allowed, count).sessions:
        deductible = [line.amount_cents or 0 for line in session.lines if line.kind == "deductible"]
        for line in session.lines:
            if line.kind == "copay":
                assert line.amount_cents is not None
                assert line.amount_cents <= allowed - sum(deductible)
                assert plan.in_network.copay is not None
                assert line.amount_cents <= plan.in_network.copay.cents


def february_end(year: int) -> date:
    return date(year, 2, 29 if calendar.isleap(year) else 28)


@settings(deadline=None)
@given(
    st.dates(date(2028, 3, 1), date(2041, 12, 31)),
    st.sampled_from([date(2028, 2, 29), date(2027, 2, 28)]),
)
def test_a_plan_year_ending_in_february_ends_29_february_in_leap_years(
    on: date, plan_end: date
) -> None:
    plan = Benefits(
        status="active",
        trace="T",
        plan_end=plan_end,
        in_network=TierBenefits(covered=True, copay=Cents(cents=3000, source="MH")),
    )
    result = estimate(plan, 10500, on, initial_state(plan, "in", date(2027, 3, 2)))

    # Anchored on the 271's end date: a 28 February end stays 28 February (DESIGN is silent on
    # plan years defined by their start; the 271's DTP*347 is what the estimate has).
    def end(year: int) -> date:
        return february_end(year) if plan_end.day == 29 else date(year, 2, 28)

    expected = end(on.year) if on <= end(on.year) else end(on.year + 1)
    assert result.before is not None
    assert result.before.year_end == expected
    assert result.client_cents == 3000


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 8))
def test_remaining_only_figures_past_the_plan_year_give_no_estimate(
    plan: Benefits, allowed: int, count: int
) -> None:
    tier = plan.in_network
    remaining_only = Accumulator(remaining=Cents(cents=5000, source="MH"))
    plan = msgspec.structs.replace(
        plan, in_network=msgspec.structs.replace(tier, out_of_pocket=remaining_only)
    )
    state = initial_state(plan, "in", AS_OF)
    after_end = [state.year_end + timedelta(days=1 + 7 * i) for i in range(count)]
    sessions = project_sessions(
        plan,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=state,
        dates=after_end,
    ).sessions
    for session in sessions:
        assert (session.status, session.client_cents) == ("not_estimated", None)
        assert session.before is not None
        assert "out_of_pocket" in session.before.unknown
    # Each still uses a visit of the new plan year when its limit is known.
    visits = [s.before.visits.value for s in sessions if s.before and s.before.visits]
    if tier.visit_limit is not None and tier.visits_remaining is not None:
        limit = tier.visit_limit.value
        assert visits == [max(0, limit - i) for i in range(count)]


@settings(deadline=None)
@given(benefits(), st.integers(1, 10))
def test_sessions_without_a_price_still_use_a_visit(plan: Benefits, count: int) -> None:
    sessions = project_sessions(
        plan,
        network="in",
        allowed_cents=None,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(plan, "in", AS_OF),
        start=AS_OF,
        count=count,
    ).sessions
    for session in sessions:
        assert session.status == "not_estimated"
        before, after = session.before, session.after
        assert before is not None
        assert after is not None
        if before.year_end == after.year_end and before.visits is not None:
            assert after.visits is not None
            assert after.visits.value == max(0, before.visits.value - 1)


@settings(deadline=None)
@given(benefits(), ALLOWED, st.integers(1, 5))
def test_an_unknown_coverage_status_never_estimates(
    plan: Benefits, allowed: int, count: int
) -> None:
    plan = msgspec.structs.replace(plan, status="unknown")
    for session in project(plan, allowed, count).sessions:
        assert (session.status, session.client_cents) == ("not_estimated", None)
        assert "call the payer" in (session.reason or "")


BAD_FRACTIONS = st.one_of(
    st.decimals(min_value=Decimal("1.001"), max_value=Decimal(100), places=3),
    st.decimals(max_value=Decimal("-0.001"), min_value=Decimal(-100), places=3),
)


@settings(deadline=None)
@given(benefits(), ALLOWED, st.data())
def test_inputs_out_of_range_are_refused(plan: Benefits, allowed: int, data: st.DataObject) -> None:
    tier = plan.in_network
    negative = Cents(cents=data.draw(st.integers(-1_000_000, -1)), source="MH")
    choices: list[tuple[str, dict[str, Any]]] = [
        (
            "in_network.coinsurance",
            {"coinsurance": Fraction(value=data.draw(BAD_FRACTIONS), source="MH")},
        ),
        ("in_network.copay", {"copay": negative}),
        ("in_network.deductible.remaining", {"deductible": Accumulator(remaining=negative)}),
        (
            "in_network.out_of_pocket.family_total",
            {"out_of_pocket": Accumulator(family_total=negative)},
        ),
    ]
    field, changed = data.draw(st.sampled_from(choices))
    plan = msgspec.structs.replace(plan, in_network=msgspec.structs.replace(tier, **changed))
    with pytest.raises(EstimateInputError) as refused:
        project(plan, allowed, 3)
    assert refused.value.field == field
    with pytest.raises(EstimateInputError) as refused:
        project(msgspec.structs.replace(plan, in_network=tier), -allowed - 1, 3)
    assert refused.value.field == "allowed_cents"


@settings(deadline=None)
@given(benefits(), st.integers(0, 60_000), st.integers(0, 60_000))
def test_out_of_network_reimbursement_follows_the_policy(
    plan: Benefits, self_pay: int, oon_allowed: int
) -> None:
    state = initial_state(plan, "out", AS_OF)
    result = out_of_network(plan, self_pay, oon_allowed, state)
    assume(result.status == "estimated")
    allowed = min(oon_allowed, self_pay)
    share = reference_share(plan.out_of_network, state, allowed)
    assert result.expected_reimbursement_cents == allowed - share
    assert 0 <= allowed - share <= min(self_pay, oon_allowed)
