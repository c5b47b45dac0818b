"""Properties of the estimate engine over generated benefits (DESIGN.md "Estimates", issue 3)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import event, given, settings
from hypothesis import strategies as st

from schemas.eligibility import (
    Accumulator,
    Benefits,
    Cents,
    Count,
    Fraction,
    Network,
    Source,
    TierBenefits,
)
from schemas.estimates import AccumulatorState, Projection, Remaining, SessionEstimate
from services.eligibility.estimate import (
    estimate_session,
    initial_state,
    project_sessions,
    reset_state,
)

AS_OF = date(2026, 3, 2)
SOURCES: st.SearchStrategy[Source] = st.sampled_from(["MH", "30"])
AMOUNTS = st.integers(0, 1_000_000)  # up to $10,000
ALLOWED = st.integers(0, 60_000)
RATES = st.integers(0, 1000)  # coinsurance in thousandths: exact Decimals


def thousandths(n: int) -> Decimal:
    return Decimal(n) / 1000


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
        copay=draw(st.none() | cents(st.integers(0, 20_000))),
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
    return estimate_session(
        plan,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        session_date=on,
        state=state or initial_state(plan, "in", AS_OF),
    )


def project(plan: Benefits, allowed: int, count: int, network: Network = "in") -> Projection:
    return project_sessions(
        plan,
        network=network,
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(plan, network, AS_OF),
        start=AS_OF,
        count=count,
    )


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
    sessions = project_sessions(
        plan,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=first,
        dates=dates,
    ).sessions
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
            total = tier.deductible.total or tier.deductible.family_total
            assert (full.deductible.value if full.deductible else None) == (
                total.cents if total else None
            )
            limit = tier.visit_limit
            assert (full.visits.value if full.visits else None) == (limit.value if limit else None)
            assert session == estimate(plan, allowed, session.session_date, state)
            year_end = full.year_end
        assert session.after is not None
        state = session.after


@settings(deadline=None)
@given(benefits(), st.integers(0, 60_000), st.none() | st.integers(0, 60_000))
def test_out_of_network_client_pays_the_rate(
    plan: Benefits, self_pay: int, oon_allowed: int | None
) -> None:
    result = estimate_session(
        plan,
        network="out",
        allowed_cents=None,
        self_pay_cents=self_pay,
        oon_allowed_cents=oon_allowed,
        session_date=AS_OF,
        state=initial_state(plan, "out", AS_OF),
    )
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
