"""The estimate engine on every plan shape of the demo world (briefs: issue 3 member list)."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from schemas.eligibility import Accumulator, Benefits, Count, Network, TierBenefits
from schemas.estimates import (
    AccumulatorState,
    Explanation,
    Projection,
    SessionEstimate,
    SessionFigures,
)
from services.eligibility.estimate import (
    EstimateInputError,
    choose_network,
    estimate_session,
    initial_state,
    project_sessions,
)
from services.eligibility.estimate_service import out_of_range
from services.eligibility.estimate_view import render_projection, render_session
from tests.eligibility import plans
from tests.eligibility.plans import AS_OF

CPT_90834 = 10500
CPT_90837 = 14500
SELF_PAY = 15000


def figures_of(
    benefits: Benefits,
    allowed: int | None = CPT_90834,
    *,
    network: Network = "in",
    on: date = date(2026, 11, 10),
    self_pay: int | None = None,
    oon_allowed: int | None = None,
    state: AccumulatorState | None = None,
) -> SessionFigures:
    """One session's figures from the 271's figures as of AS_OF (or `state`)."""
    return estimate_session(
        benefits,
        network=network,
        allowed_cents=allowed,
        self_pay_cents=self_pay,
        oon_allowed_cents=oon_allowed,
        session_date=on,
        state=state or initial_state(benefits, network, AS_OF),
    )


def estimate(
    benefits: Benefits,
    allowed: int | None = CPT_90834,
    *,
    network: Network = "in",
    on: date = date(2026, 11, 10),
    self_pay: int | None = None,
    oon_allowed: int | None = None,
) -> SessionEstimate:
    """One session as ops see it."""
    figures = figures_of(
        benefits, allowed, network=network, on=on, self_pay=self_pay, oon_allowed=oon_allowed
    )
    return render_session(figures, full=True)


def project(
    benefits: Benefits,
    allowed: int,
    *,
    start: date | None = None,
    count: int | None = None,
    dates: list[date] | None = None,
) -> Projection:
    """An in-network projection from the 271's figures as of AS_OF, as ops see it."""
    figures = project_sessions(
        benefits,
        network="in",
        allowed_cents=allowed,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(benefits, "in", AS_OF),
        dates=dates,
        start=start,
        count=count,
    )
    return render_projection(figures, full=True)


def kinds(result: SessionEstimate) -> list[str]:
    return [line.kind for line in result.lines]


def line_of(result: SessionEstimate, kind: str) -> Explanation:
    found = [line for line in result.lines if line.kind == kind]
    assert len(found) == 1, result.lines
    return found[0]


def test_copay_with_deductible_met() -> None:
    result = estimate(plans.JORDAN_LEE)
    assert (result.status, result.client_cents, result.insurer_cents) == ("estimated", 3000, 7500)
    assert line_of(result, "deductible").amount_cents == 0
    copay = line_of(result, "copay")
    assert (copay.amount_cents, copay.source) == (3000, "MH")
    assert "$30.00" in copay.text
    assert result.after is not None
    assert result.after.deductible is not None
    assert result.after.deductible.value == 0


def test_copay_never_more_than_the_rest() -> None:
    result = estimate(plans.JORDAN_LEE, allowed=2000)
    assert (result.client_cents, result.insurer_cents) == (2000, 0)
    assert "never more than the $20.00" in line_of(result, "copay").text


@pytest.mark.parametrize(
    ("allowed", "share"), [(CPT_90834, 2100), (CPT_90837, 2900), (10503, 2101)]
)
def test_coinsurance_twenty_percent_rounded_half_up(allowed: int, share: int) -> None:
    # 20% of 10503 = 2100.6 -> 2101; of 10502.5 would be half: exercised in the property tests.
    result = estimate(plans.CASEY_MORGAN, allowed)
    assert (result.client_cents, result.insurer_cents) == (share, allowed - share)
    line = line_of(result, "coinsurance")
    assert (line.amount_cents, line.source) == (share, "MH")
    assert "20%" in line.text


def test_half_cent_rounds_up() -> None:
    benefits = msgspec.structs.replace(
        plans.CASEY_MORGAN,
        in_network=msgspec.structs.replace(
            plans.CASEY_MORGAN.in_network, coinsurance=plans.fraction(".25")
        ),
    )
    assert estimate(benefits, 10002).client_cents == 2501  # 2500.5 -> 2501


def test_out_of_pocket_met_costs_nothing() -> None:
    result = estimate(plans.RILEY_CHEN, CPT_90837)
    assert (result.client_cents, result.insurer_cents) == (0, CPT_90837)
    cap = line_of(result, "oop_cap")
    assert (cap.amount_cents, cap.source) == (2900, "MH")


def test_visit_limit_two_left_then_the_jump() -> None:
    projection = project(plans.AVERY_PATEL, CPT_90834, start=date(2026, 11, 3), count=4)
    shares = [(s.client_cents, s.insurer_cents) for s in projection.sessions]
    assert shares == [(2500, 8000), (2500, 8000), (CPT_90834, 0), (CPT_90834, 0)]
    third = projection.sessions[2]
    jump = line_of(third, "visit_limit")
    assert "used up" in jump.text
    assert jump.amount_cents == CPT_90834
    assert "copay" not in kinds(third)
    assert third.before == third.after  # an uncovered visit counts toward no accumulator
    visits = [s.before.visits.value for s in projection.sessions if s.before and s.before.visits]
    assert visits == [2, 1, 0, 0]
    assert projection.client_total_cents == 2500 * 2 + CPT_90834 * 2
    assert projection.complete


def test_mh_silent_uses_service_type_30_and_says_so() -> None:
    result = estimate(plans.QUINN_FOSTER)
    assert (result.client_cents, result.insurer_cents) == (4000, 6500)
    assert line_of(result, "copay").source == "30"
    assert line_of(result, "deductible").source == "30"
    assert "plan coverage (30)" in line_of(result, "copay").text
    assert line_of(result, "note").text.startswith("MH lines said nothing")


def test_family_smaller_remaining_applies() -> None:
    state = initial_state(plans.KIM_FAMILY, "in", AS_OF)
    assert state.deductible is not None
    assert (state.deductible.value, state.deductible.basis) == (90000, "individual")
    result = estimate(plans.KIM_FAMILY, CPT_90837)
    assert (result.client_cents, result.insurer_cents) == (CPT_90837, 0)
    assert line_of(result, "deductible").text == (
        "Deductible: $145.00 of $145.00 goes to the deductible (deductible $900.00 remaining "
        "(the family has $1,200.00 left: the smaller applies), from the mental health (MH) lines)"
    )


def test_family_remaining_smaller_than_individual() -> None:
    tier = plans.KIM_FAMILY.in_network
    deductible = msgspec.structs.replace(tier.deductible, family_remaining=plans.cents(5000))
    benefits = msgspec.structs.replace(
        plans.KIM_FAMILY, in_network=msgspec.structs.replace(tier, deductible=deductible)
    )
    result = estimate(benefits, CPT_90834)
    assert result.client_cents == 5000 + 1650  # $50 family deductible, then 30% of $55
    assert "$50.00 remaining for the family (the individual has $900.00 left" in (
        line_of(result, "deductible").text
    )


def test_kim_projection_fills_the_deductible() -> None:
    projection = project(plans.KIM_FAMILY, CPT_90837, start=date(2026, 11, 2), count=7)
    shares = [s.client_cents for s in projection.sessions]
    assert shares == [CPT_90837] * 6 + [3000 + 3450]  # $30 left, then 30% of $115


def test_carve_out_names_who_to_ask() -> None:
    result = estimate(plans.SYDNEY_PARK)
    assert result.status == "not_estimated"
    assert result.client_cents is None
    assert result.insurer_cents is None
    assert result.ask is not None
    assert (result.ask.name, result.ask.phone, result.ask.identifier) == (
        "Mindful Behavioral Health",
        "8005550199",
        "MBH01",
    )
    assert "Mindful Behavioral Health" in (result.reason or "")
    assert kinds(result) == ["carve_out"]
    assert "(800) 555-0199" in result.lines[0].text


def test_inactive_coverage_gives_no_estimate() -> None:
    result = estimate(plans.MORGAN_DIAZ)
    assert (result.status, result.client_cents) == ("not_estimated", None)
    assert result.reason == "coverage is not active (plan ended 2025-12-31)"
    assert kinds(result) == ["coverage"]
    assert not result.retry_later


def test_transient_rejection_says_retry_later() -> None:
    result = estimate(plans.PAYER_BUSY)
    assert result.status == "not_estimated"
    assert result.retry_later
    assert result.reason == "payer could not answer now; retry later"


def test_final_rejection_names_the_reason() -> None:
    result = estimate(plans.UNKNOWN_MEMBER)
    assert not result.retry_later
    assert result.reason == (
        "the payer rejected the eligibility request: subscriber not found (AAA 75 in loop 2100C)"
    )


def test_high_deductible_then_coinsurance_with_prior_auth() -> None:
    result = estimate(plans.TAYLOR_BROOKS, CPT_90837)
    assert (result.client_cents, result.insurer_cents) == (CPT_90837, 0)
    assert "prior_auth" in kinds(result)
    deductible = line_of(result, "deductible")
    assert "$2,800.00 remaining" in deductible.text
    projection = project(plans.TAYLOR_BROOKS, CPT_90837, start=date(2026, 1, 5), count=21)
    shares = [s.client_cents for s in projection.sessions]
    # 19 sessions x $145 = $2,755; the 20th: $45 deductible, then 20% of $100.
    assert shares == [CPT_90837] * 19 + [4500 + 2000, 2900]


def test_out_of_network_pays_the_self_pay_rate_and_shows_reimbursement() -> None:
    # Jamie Rivera: $1,000 OON deductible untouched, so the first sessions reimburse nothing.
    assert choose_network(plans.JAMIE_RIVERA, provider_in_network=True) == "out"
    result = estimate(plans.JAMIE_RIVERA, network="out", self_pay=SELF_PAY, oon_allowed=12000)
    assert (result.client_cents, result.insurer_cents) == (SELF_PAY, 0)
    assert result.price_cents == SELF_PAY
    assert result.expected_reimbursement_cents == 0
    assert result.after is not None
    assert result.after.deductible is not None
    assert result.after.deductible.value == 100000 - 12000
    benefits = msgspec.structs.replace(
        plans.JAMIE_RIVERA,
        out_of_network=msgspec.structs.replace(
            plans.JAMIE_RIVERA.out_of_network, deductible=plans.acc(100000, 2000)
        ),
    )
    result = estimate(benefits, network="out", self_pay=SELF_PAY, oon_allowed=12000)
    assert result.expected_reimbursement_cents == 6000  # ($120 - $20) x (1 - 40%)
    assert "coinsurance" in kinds(result)
    assert "out_of_network" in kinds(result)


def test_out_of_network_reimbursement_uses_the_lesser_of_charge_and_allowed() -> None:
    benefits = msgspec.structs.replace(
        plans.JAMIE_RIVERA,
        out_of_network=msgspec.structs.replace(
            plans.JAMIE_RIVERA.out_of_network, deductible=plans.acc(100000, 0)
        ),
    )
    result = estimate(benefits, network="out", self_pay=10000, oon_allowed=12000)
    assert (result.allowed_cents, result.expected_reimbursement_cents) == (10000, 6000)


def test_out_of_network_without_an_allowed_amount_says_why() -> None:
    result = estimate(plans.JAMIE_RIVERA, network="out", self_pay=SELF_PAY, oon_allowed=None)
    assert result.status == "estimated"
    assert result.client_cents == SELF_PAY
    assert result.expected_reimbursement_cents is None
    assert result.reason == (
        "no out-of-network allowed amount is entered for this payer and CPT code"
    )


def test_out_of_network_without_a_self_pay_rate() -> None:
    result = estimate(plans.JAMIE_RIVERA, network="out", oon_allowed=12000)
    assert result.status == "not_estimated"
    assert "self-pay rate" in (result.reason or "")


def test_in_network_asked_for_an_oon_only_plan() -> None:
    result = estimate(plans.JAMIE_RIVERA)
    assert result.status == "not_estimated"
    assert result.reason == (
        "the 271 shows no in-network mental-health benefit; the plan covers it only out of network"
    )


def test_no_fee_schedule() -> None:
    result = estimate(plans.JORDAN_LEE, allowed=None)
    assert result.status == "not_estimated"
    assert "fee schedule" in (result.reason or "")
    assert "missing" in kinds(result)


def test_no_copay_and_no_coinsurance_means_nothing_after_the_deductible() -> None:
    tier = msgspec.structs.replace(plans.CASEY_MORGAN.in_network, coinsurance=None)
    benefits = msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier)
    result = estimate(benefits)
    assert (result.status, result.client_cents, result.insurer_cents) == ("estimated", 0, CPT_90834)
    assert (
        "Copay and coinsurance not stated by the payer for mental health (MH) or plan coverage "
        "(30): assumed nothing is owed after the deductible"
    ) in [line.text for line in result.lines if line.kind == "missing"]
    # Within the deductible the deductible is owed, and nothing after it.
    tier = msgspec.structs.replace(tier, deductible=plans.acc(50000, 4000))
    result = estimate(msgspec.structs.replace(benefits, in_network=tier))
    assert (result.status, result.client_cents) == ("estimated", 4000)
    assert "missing" in kinds(result)


def test_missing_figures_are_stated_as_assumptions() -> None:
    tier = TierBenefits(covered=True)
    result = estimate(msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier))
    assert (result.client_cents, result.insurer_cents) == (0, CPT_90834)
    texts = [line.text for line in result.lines if line.kind == "missing"]
    stated = "not stated by the payer for mental health (MH) or plan coverage (30)"
    assert texts == [
        f"Deductible {stated}: assumed none",
        f"Copay and coinsurance {stated}: assumed nothing is owed after the deductible",
        f"Out-of-pocket maximum {stated}: assumed no cap",
    ]


def test_total_without_remaining_is_assumed_unused() -> None:
    tier = msgspec.structs.replace(
        plans.CASEY_MORGAN.in_network, deductible=Accumulator(total=plans.cents(20000))
    )
    result = estimate(msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier))
    assert result.client_cents == 10500  # the whole $200 deductible assumed unused
    assert "assumed" in line_of(result, "deductible").text


def test_a_zero_copay_beside_a_coinsurance_means_the_coinsurance_applies() -> None:
    tier = msgspec.structs.replace(plans.CASEY_MORGAN.in_network, copay=plans.cents(0))
    result = estimate(msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier))
    assert (result.client_cents, result.insurer_cents) == (2100, 8400)
    line = line_of(result, "coinsurance")
    assert line.amount_cents == 2100
    assert line.text.endswith("; the payer's $0.00 copay beside it means the coinsurance applies")
    assert "copay" not in kinds(result)


def test_a_copay_with_a_coinsurance_applies_instead_and_says_so() -> None:
    tier = msgspec.structs.replace(plans.CASEY_MORGAN.in_network, copay=plans.cents(3000))
    result = estimate(msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier))
    assert result.client_cents == 3000
    assert "also gives 20% coinsurance: assumed the copay applies instead" in (
        line_of(result, "copay").text
    )


def test_a_copay_for_a_calendar_year_still_applies_per_visit_and_names_the_period() -> None:
    tier = msgspec.structs.replace(plans.JORDAN_LEE.in_network, copay_period="calendar_year")
    projection = project(
        msgspec.structs.replace(plans.JORDAN_LEE, in_network=tier),
        CPT_90834,
        start=date(2026, 11, 3),
        count=3,
    )
    assert [s.client_cents for s in projection.sessions] == [3000, 3000, 3000]
    text = line_of(projection.sessions[0], "copay").text
    assert text == (
        "Copay: $30.00 per visit, from the mental health (MH) lines; the payer states it per "
        "calendar year: charged at each visit"
    )


def test_unknown_coverage_gives_no_estimate_and_says_call_the_payer() -> None:
    benefits = msgspec.structs.replace(plans.JORDAN_LEE, status="unknown")
    result = render_session(figures_of(benefits), full=True, payer="Evergreen Health")
    assert (result.status, result.client_cents, result.retry_later) == (
        "not_estimated",
        None,
        False,
    )
    assert result.reason == (
        "the payer's answer does not say whether mental health is covered: call Evergreen "
        "Health to ask"
    )
    assert kinds(result) == ["coverage"]
    assert "call the payer to ask" in (estimate(benefits).reason or "")


def test_sessions_without_a_price_still_use_a_visit() -> None:
    projection = project_sessions(
        plans.AVERY_PATEL,
        network="in",
        allowed_cents=None,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(plans.AVERY_PATEL, "in", AS_OF),
        start=date(2026, 11, 3),
        count=3,
    )
    assert [s.status for s in projection.sessions] == ["not_estimated"] * 3
    left = [(s.before.visits.value, s.after.visits.value) for s in projection.sessions]  # type: ignore[union-attr]
    assert left == [(2, 1), (1, 0), (0, 0)]
    assert not projection.complete


def test_past_the_plan_year_with_only_remaining_figures_there_is_no_estimate() -> None:
    # Taylor Brooks with the deductible given only as a remaining amount: no total to reset to.
    tier = msgspec.structs.replace(
        plans.TAYLOR_BROOKS.in_network,
        deductible=Accumulator(remaining=plans.cents(280000)),
        visit_limit=Count(value=20, source="MH"),
        visits_remaining=Count(value=10, source="MH"),
    )
    benefits = msgspec.structs.replace(plans.TAYLOR_BROOKS, in_network=tier)
    projection = project(benefits, CPT_90837, start=date(2026, 12, 28), count=3)
    first, second, third = projection.sessions
    assert (first.status, first.client_cents) == ("estimated", CPT_90837)
    for later in (second, third):
        assert (later.status, later.client_cents) == ("not_estimated", None)
        assert later.reason == (
            "in the plan year ending 2027-12-31 the accumulators start anew, and the 271 gave "
            "only what remains of the deductible this plan year, not the plan year's total: ask "
            "the payer for the new plan year's figures"
        )
    assert second.before is not None
    assert second.before.unknown == ("deductible",)
    assert kinds(second)[0] == "plan_year_reset"
    # The visit limit is known in the new plan year: the sessions use visits from it.
    assert [s.after.visits.value for s in (second, third)] == [19, 18]  # type: ignore[union-attr]
    assert projection.client_total_cents == CPT_90837
    assert not projection.complete


def test_a_lifetime_visit_limit_does_not_start_anew_with_the_plan_year() -> None:
    tier = msgspec.structs.replace(plans.AVERY_PATEL.in_network, visit_limit_period="lifetime")
    benefits = msgspec.structs.replace(plans.AVERY_PATEL, in_network=tier)
    projection = project(benefits, CPT_90834, start=date(2026, 12, 24), count=3)
    shares = [s.client_cents for s in projection.sessions]
    assert shares == [2500, 2500, CPT_90834]  # the third, in 2027, finds no visit left
    first = line_of(projection.sessions[0], "visit_limit")
    assert first.text == (
        "Visit limit: 2 remaining, from the mental health (MH) lines (the payer states it per "
        "lifetime); this session uses one"
    )


def test_a_reset_applies_the_smaller_of_the_individual_and_family_totals() -> None:
    tier = msgspec.structs.replace(
        plans.CASEY_MORGAN.in_network,
        deductible=Accumulator(
            total=plans.cents(50000),
            remaining=plans.cents(0),
            family_total=plans.cents(8000),
            family_remaining=plans.cents(0),
        ),
    )
    benefits = msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier)
    result = estimate(benefits, on=date(2027, 1, 5))
    assert result.before is not None
    assert result.before.deductible is not None
    assert (result.before.deductible.value, result.before.deductible.other) == (8000, 50000)
    assert result.client_cents == 8000 + 500  # $80 family deductible, then 20% of $25


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"coinsurance": plans.fraction("20")}, "in_network.coinsurance"),
        ({"coinsurance": plans.fraction("-0.1")}, "in_network.coinsurance"),
        ({"coinsurance": plans.fraction("NaN")}, "in_network.coinsurance"),
        ({"copay": plans.cents(-1)}, "in_network.copay"),
        ({"deductible": plans.acc(50000, -5)}, "in_network.deductible.remaining"),
        ({"out_of_pocket": plans.acc(-1, 0)}, "in_network.out_of_pocket.total"),
        ({"visits_remaining": Count(value=-1, source="MH")}, "in_network.visits_remaining"),
    ],
)
def test_benefits_out_of_range_are_refused(change: dict[str, object], field: str) -> None:
    tier = msgspec.structs.replace(plans.CASEY_MORGAN.in_network, **change)
    benefits = msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier)
    with pytest.raises(EstimateInputError) as refused:
        figures_of(benefits, state=initial_state(plans.CASEY_MORGAN, "in", AS_OF))
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("prices", "field"),
    [
        ((-1, None, None), "allowed_cents"),
        ((None, -1, None), "self_pay_cents"),
        ((None, 100, -100), "oon_allowed_cents"),
    ],
)
def test_negative_prices_are_refused(prices: tuple[int | None, ...], field: str) -> None:
    allowed, self_pay, oon_allowed = prices
    network: Network = "in" if allowed is not None else "out"
    with pytest.raises(EstimateInputError) as refused:
        estimate(
            plans.JAMIE_RIVERA if network == "out" else plans.CASEY_MORGAN,
            allowed,
            network=network,
            self_pay=self_pay,
            oon_allowed=oon_allowed,
        )
    assert refused.value.field == field


def test_a_refused_input_is_a_422_naming_the_field() -> None:
    tier = msgspec.structs.replace(plans.CASEY_MORGAN.in_network, coinsurance=plans.fraction("20"))
    with pytest.raises(EstimateInputError) as refused:
        estimate(msgspec.structs.replace(plans.CASEY_MORGAN, in_network=tier))
    problem = out_of_range(refused.value)
    assert (problem.status, problem.field) == (422, "benefits.in_network.coinsurance")
    assert "must be a fraction from 0 to 1 (got 20)" in problem.detail


def test_a_negative_remaining_state_is_refused() -> None:
    state = initial_state(plans.CASEY_MORGAN, "in", AS_OF)
    assert state.deductible is not None
    bad = msgspec.structs.replace(
        state, deductible=msgspec.structs.replace(state.deductible, value=-100)
    )
    with pytest.raises(EstimateInputError) as refused:
        figures_of(plans.CASEY_MORGAN, state=bad)
    assert refused.value.field == "state.deductible"


def test_out_of_network_reimbursement_takes_off_copay_and_stops_at_the_out_of_pocket() -> None:
    # $20 copay, $50 of the OON out-of-pocket left: the lesser of $120 allowed and the $150
    # rate, less the copay; then, once the cap is reached, the plan pays the whole $120.
    tier = TierBenefits(
        covered=True, copay=plans.cents(2000), out_of_pocket=plans.acc(100000, 5000)
    )
    benefits = msgspec.structs.replace(plans.JAMIE_RIVERA, out_of_network=tier)
    projection = project_sessions(
        benefits,
        network="out",
        allowed_cents=None,
        self_pay_cents=SELF_PAY,
        oon_allowed_cents=12000,
        state=initial_state(benefits, "out", AS_OF),
        start=date(2026, 11, 3),
        count=4,
    )
    reimbursed = [s.expected_reimbursement_cents for s in projection.sessions]
    assert reimbursed == [10000, 10000, 11000, 12000]  # copay $20, $20, then $10 left, then $0
    assert [s.client_cents for s in projection.sessions] == [SELF_PAY] * 4


def test_out_of_network_without_cost_sharing_reimburses_past_the_deductible() -> None:
    tier = TierBenefits(covered=True, deductible=plans.acc(100000, 2000))
    benefits = msgspec.structs.replace(plans.JAMIE_RIVERA, out_of_network=tier)
    result = estimate(benefits, network="out", self_pay=SELF_PAY, oon_allowed=12000)
    assert result.expected_reimbursement_cents == 10000  # $120 less the $20 deductible left
    missing = [line.text for line in result.lines if line.kind == "missing"]
    assert any(text.endswith("assumed nothing is owed after the deductible") for text in missing)


def test_the_client_share_view_never_states_the_allowed_amount() -> None:
    benefits = msgspec.structs.replace(
        plans.JORDAN_LEE,
        in_network=msgspec.structs.replace(
            plans.JORDAN_LEE.in_network, deductible=plans.acc(50000, 9000)
        ),
    )
    figures = figures_of(benefits)
    shown = render_session(figures, full=False)
    assert (shown.client_cents, shown.price_cents, shown.insurer_cents) == (10500, None, None)
    full = render_session(figures, full=True)
    assert "$105.00" in line_of(full, "deductible").text
    assert line_of(shown, "deductible").text == (
        "Deductible: $90.00 of this session goes to the deductible, from the mental health "
        "(MH) lines"
    )
    assert line_of(shown, "copay").text == (
        "Copay: $15.00 for this session, from the mental health (MH) lines"
    )
    assert all(
        "$105.00" not in line.text and "$15.00 left" not in line.text for line in shown.lines
    )


def test_session_after_the_plan_year_starts_from_reset_accumulators() -> None:
    result = estimate(plans.TAYLOR_BROOKS, CPT_90837, on=date(2027, 1, 4))
    assert result.before is not None
    assert result.before.deductible is not None
    assert result.before.year_end == date(2027, 12, 31)
    assert result.before.deductible.value == 300000
    assert kinds(result)[0] == "plan_year_reset"


def test_plan_year_ends_31_december_without_dtp_347() -> None:
    benefits = msgspec.structs.replace(plans.CASEY_MORGAN, plan_end=None)
    assert initial_state(benefits, "in", AS_OF).year_end == date(2026, 12, 31)


def _floats(value: object) -> list[object]:
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return [value] if isinstance(value, float) else []


def test_no_floats_in_the_output() -> None:
    result = estimate(plans.CASEY_MORGAN, 10503)
    assert _floats(msgspec.to_builtins(result)) == []
    assert isinstance(result.client_cents, int)


def test_projection_needs_dates_or_a_start() -> None:
    with pytest.raises(ValueError, match="either dates"):
        project(plans.JORDAN_LEE, CPT_90834)
    with pytest.raises(ValueError, match="in order"):
        project(plans.JORDAN_LEE, CPT_90834, dates=[date(2026, 11, 9), date(2026, 11, 2)])
