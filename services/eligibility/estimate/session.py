"""One session's figures: the client's and the insurer's share, and the facts that say why.

`Plan` holds what every session of a projection shares, worked out once: the coverage status,
carve-out and tier checks, the input checks, the notes and prior-authorization lines and the
copay-or-coinsurance rule. `Plan.session` then computes one session from the accumulators the
one before left. No text is written here (see lines.py and estimate_view.py).
"""

from __future__ import annotations

from datetime import date

from schemas.eligibility import Benefits, Cents, Fraction, Network
from schemas.estimates import AccumulatorState, Fact, SessionFigures

from .checks import EstimateInputError, EstimateInvariantError, check_price, check_state, check_tier
from .state import consume, has_benefit, less, reset_state, tier_of

NO_DEDUCTIBLE = Fact("no_deductible")
NO_OUT_OF_POCKET = Fact("no_out_of_pocket")
NO_FEE_SCHEDULE = Fact("no_fee_schedule")
NO_SELF_PAY = Fact("no_self_pay")
NO_OON_BENEFIT = Fact("no_oon_benefit")
NO_OON_ALLOWED = Fact("no_oon_allowed")
VISIT_LIMIT_USED = Fact("visit_limit_used")
PRIOR_AUTH = Fact("prior_auth")
UNKNOWN_STATUS = Fact("unknown_status")


def _blocking_fact(benefits: Benefits, network: Network) -> Fact | None:
    """Why no session can be estimated at all, before any figure is read."""
    if benefits.status == "rejected":
        return Fact("rejected", args=(tuple(benefits.rejections),))
    if benefits.status == "inactive":
        return Fact("inactive", args=(benefits.plan_end,))
    if benefits.status == "unknown":
        return UNKNOWN_STATUS
    if benefits.carve_out is not None:
        return Fact("carve_out", args=(benefits.carve_out,))
    if network == "in" and not has_benefit(benefits.in_network):
        return Fact("no_in_network", args=(has_benefit(benefits.out_of_network),))
    return None


class Plan:
    """What a projection's sessions share, checked and worked out once."""

    __slots__ = (
        "allowed",
        "benefits",
        "blocked",
        "coinsurance",
        "copay",
        "copay_also",
        "copay_period",
        "network",
        "oon_allowed",
        "prefix",
        "ratio",
        "self_pay",
        "tier",
        "tier_covered",
        "visit_period",
        "zero_copay",
    )

    def __init__(
        self,
        benefits: Benefits,
        *,
        network: Network,
        allowed_cents: int | None,
        self_pay_cents: int | None,
        oon_allowed_cents: int | None,
        state: AccumulatorState,
    ) -> None:
        if state.network != network:
            raise EstimateInputError(
                "state.network", f"accumulators are for the {state.network} tier, not {network}"
            )
        if (
            (allowed_cents is not None and allowed_cents < 0)
            or (self_pay_cents is not None and self_pay_cents < 0)
            or (oon_allowed_cents is not None and oon_allowed_cents < 0)
        ):
            check_price("allowed_cents", allowed_cents)
            check_price("self_pay_cents", self_pay_cents)
            check_price("oon_allowed_cents", oon_allowed_cents)
        self.benefits, self.network = benefits, network
        self.allowed, self.self_pay, self.oon_allowed = (
            allowed_cents,
            self_pay_cents,
            oon_allowed_cents,
        )
        tier = self.tier = tier_of(benefits, network)
        covered = self.tier_covered = has_benefit(tier)
        self.blocked = (
            None
            if benefits.status == "active"
            and benefits.carve_out is None
            and (covered or network == "out")
            else _blocking_fact(benefits, network)
        )
        self.prefix: tuple[Fact, ...] = ()
        self.copay: Cents | None = None
        self.coinsurance: Fraction | None = None
        self.copay_also: Fraction | None = None  # a coinsurance the copay applies instead of
        self.zero_copay: Cents | None = None  # a $0 copay the coinsurance applies instead of
        self.ratio = (0, 1)  # the coinsurance as an exact integer ratio
        self.copay_period = tier.copay_period
        self.visit_period = tier.visit_limit_period
        if self.blocked is not None:
            return
        check_tier("in_network" if network == "in" else "out_of_network", tier)
        check_state(state)
        prefix = [Fact("note", args=(text,)) for text in benefits.notes]
        if tier.prior_auth_required:
            prefix.append(PRIOR_AUTH)
        self.prefix = tuple(prefix)
        copay, coinsurance = tier.copay, tier.coinsurance
        if coinsurance is not None and (copay is None or copay.cents == 0):
            # A $0 copay beside a coinsurance means the coinsurance applies (DESIGN).
            self.coinsurance, self.zero_copay = coinsurance, copay
            self.ratio = coinsurance.value.as_integer_ratio()
        elif copay is not None:
            self.copay = copay
            if coinsurance is not None and coinsurance.value > 0:
                self.copay_also = coinsurance

    def _blocked(self, session_date: date, fact: Fact) -> SessionFigures:
        network = self.network if fact.kind == "no_in_network" else None
        return SessionFigures(
            session_date=session_date,
            status="not_estimated",
            network=network,
            reason=fact,
            retry_later=fact.kind == "rejected"
            and any(r.transient for r in self.benefits.rejections),
            ask=self.benefits.carve_out if fact.kind == "carve_out" else None,
            facts=(fact,),
        )

    def session(self, session_date: date, state: AccumulatorState) -> SessionFigures:
        """This session's figures, from `state` (the accumulators the session before left)."""
        if self.blocked is not None:
            return self._blocked(session_date, self.blocked)
        if session_date > state.year_end:
            reset = reset_state(self.benefits, state, session_date)
            facts = [Fact("plan_year_reset", args=(state.year_end, reset)), *self.prefix]
            state = reset
        else:
            facts = list(self.prefix)
        if state.unknown:
            reason = Fact("reset_unknown", args=(state.year_end, state.unknown))
            return self._not_estimated(session_date, reason, facts, state)
        if self.network == "in":
            return self._in_network(session_date, state, facts)
        return self._out_of_network(session_date, state, facts)

    def _not_estimated(
        self, session_date: date, reason: Fact, facts: list[Fact], state: AccumulatorState
    ) -> SessionFigures:
        """No estimate, but the session still happens: it uses a visit while any are left."""
        facts.append(reason)
        visits = state.visits
        after = state
        if visits is not None and visits.value > 0:
            after = consume(state, deductible=0, out_of_pocket=0, visits=1)
        return SessionFigures(
            session_date=session_date,
            status="not_estimated",
            network=self.network,
            reason=reason,
            before=state,
            after=after,
            facts=tuple(facts),
        )

    def _member_share(
        self, price: int, state: AccumulatorState, facts: list[Fact]
    ) -> tuple[int, AccumulatorState]:
        """The member's capped share of `price` and the state after it."""
        visits = state.visits
        if visits is not None:
            facts.append(Fact("visit", None, visits.source, (visits, self.visit_period)))
        deductible = state.deductible
        if deductible is None:
            applied = 0
            facts.append(NO_DEDUCTIBLE)
        else:
            left = deductible.value
            applied = left if left < price else price
            facts.append(Fact("deductible", applied, deductible.source, (price, deductible)))
        rest = price - applied
        copay, coinsurance = self.copay, self.coinsurance
        if coinsurance is not None:
            numerator, denominator = self.ratio
            # Half up to the cent, in integers: exact for any Decimal fraction.
            share = (2 * rest * numerator + denominator) // (2 * denominator)
            facts.append(
                Fact("coinsurance", share, coinsurance.source, (coinsurance, rest, self.zero_copay))
            )
        elif copay is not None:
            share = copay.cents if copay.cents < rest else rest
            args = (copay.cents, rest, self.copay_period, self.copay_also)
            facts.append(Fact("copay", share, copay.source, args))
        else:
            share = 0
            facts.append(Fact("no_cost_share", 0, None, (rest,)))
        total = applied + share
        oop = state.out_of_pocket
        if oop is None:
            facts.append(NO_OUT_OF_POCKET)
        elif total > oop.value:
            facts.append(Fact("oop_cap", total - oop.value, oop.source, (oop, total)))
            total = oop.value
        if not 0 <= total <= price:
            raise EstimateInvariantError(f"member share {total} outside 0..{price}")
        # A capped share pays the deductible first; what the cap took off is not the client's.
        after = AccumulatorState(
            network=state.network,
            year_end=state.year_end,
            deductible=less(deductible, applied if applied < total else total),
            out_of_pocket=less(oop, total),
            visits=less(visits, 1),
            unknown=state.unknown,
        )
        return total, after

    def _in_network(
        self, session_date: date, state: AccumulatorState, facts: list[Fact]
    ) -> SessionFigures:
        allowed = self.allowed
        if allowed is None:
            return self._not_estimated(session_date, NO_FEE_SCHEDULE, facts, state)
        visits = state.visits
        if visits is not None and visits.value <= 0:
            # Not covered: the client owes the allowed amount; it counts toward no accumulator.
            facts.append(Fact("visits_used_up", allowed, visits.source, ("in",)))
            client, after = allowed, state
        else:
            client, after = self._member_share(allowed, state, facts)
        return SessionFigures(
            session_date=session_date,
            status="estimated",
            network="in",
            price_cents=allowed,
            client_cents=client,
            insurer_cents=allowed - client,
            allowed_cents=allowed,
            before=state,
            after=after,
            facts=tuple(facts),
        )

    def _out_of_network(
        self, session_date: date, state: AccumulatorState, facts: list[Fact]
    ) -> SessionFigures:
        self_pay = self.self_pay
        if self_pay is None:
            return self._not_estimated(session_date, NO_SELF_PAY, facts, state)
        facts.append(Fact("self_pay", self_pay))
        oon_allowed = self.oon_allowed
        reimbursed: int | None = None
        why: Fact | None = None
        allowed: int | None = None
        after = state
        if not self.tier_covered:
            why = NO_OON_BENEFIT
        elif oon_allowed is None:
            why = NO_OON_ALLOWED
            visits = state.visits
            if visits is not None and visits.value > 0:
                after = consume(state, deductible=0, out_of_pocket=0, visits=1)
        else:
            # Payers reimburse on the lesser of the billed charge and their allowed amount.
            allowed = min(oon_allowed, self_pay)
            facts.append(Fact("oon_allowed", allowed, None, (oon_allowed, self_pay)))
            visits = state.visits
            if visits is not None and visits.value <= 0:
                facts.append(Fact("visits_used_up", allowed, visits.source, ("out",)))
                reimbursed, why = 0, VISIT_LIMIT_USED
            else:
                share, after = self._member_share(allowed, state, facts)
                reimbursed = allowed - share
        if why is not None and reimbursed is None:
            facts.append(why)
        elif reimbursed is not None:
            facts.append(Fact("reimbursement", reimbursed))
        return SessionFigures(
            session_date=session_date,
            status="estimated",
            network="out",
            price_cents=self_pay,
            client_cents=self_pay,
            insurer_cents=0,
            allowed_cents=allowed,
            expected_reimbursement_cents=reimbursed,
            reason=why,
            before=state,
            after=after,
            facts=tuple(facts),
        )


def estimate_session(
    benefits: Benefits,
    *,
    network: Network,
    allowed_cents: int | None,
    self_pay_cents: int | None,
    oon_allowed_cents: int | None,
    session_date: date,
    state: AccumulatorState,
) -> SessionFigures:
    """One session's figures from the 271's benefits and the running accumulator state.

    `network` is the tier that applies (the caller decides; see `choose_network`), and `state`
    its accumulators (`initial_state`, or the `after` of the session before). In network the
    price is `allowed_cents` (None: no fee schedule); out of network it is `self_pay_cents` and
    `oon_allowed_cents` (ops-entered, or None) gives the expected reimbursement. Inputs out of
    range raise EstimateInputError naming the field.
    """
    plan = Plan(
        benefits,
        network=network,
        allowed_cents=allowed_cents,
        self_pay_cents=self_pay_cents,
        oon_allowed_cents=oon_allowed_cents,
        state=state,
    )
    return plan.session(session_date, state)
