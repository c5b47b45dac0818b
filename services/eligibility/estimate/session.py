"""One session's estimate: the client's and the insurer's share, and why."""

from __future__ import annotations

from datetime import date

from schemas.eligibility import Benefits, CarveOut, Network, TierBenefits
from schemas.estimates import AccumulatorState, Explanation, SessionEstimate

from .lines import (
    describe_remaining,
    from_source,
    half_up,
    line,
    money,
    notes,
    percent,
    phone,
    rejection_reason,
)
from .state import consume, has_benefit, reset_state, tier_of

_NO_COST_SHARE = (
    "the 271 gives no copay or coinsurance for mental health (MH) or plan coverage (30)"
)


def _not_estimated(
    session_date: date,
    reason: str,
    lines: list[Explanation],
    *,
    network: Network | None = None,
    state: AccumulatorState | None = None,
    retry_later: bool = False,
    ask: CarveOut | None = None,
) -> SessionEstimate:
    """No estimate; a session past the status checks keeps its accumulators as they were."""
    return SessionEstimate(
        session_date=session_date,
        status="not_estimated",
        network=network,
        reason=reason,
        retry_later=retry_later,
        ask=ask,
        before=state,
        after=state,
        lines=lines,
    )


def _blocked(benefits: Benefits, network: Network, session_date: date) -> SessionEstimate | None:
    """No estimate at all: a rejection, inactive coverage, a carve-out, no benefit in the tier."""
    if benefits.status == "rejected":
        reason, transient = rejection_reason(benefits.rejections)
        return _not_estimated(
            session_date, reason, [line("coverage", reason)], retry_later=transient
        )
    if benefits.status == "inactive":
        ended = f" (plan ended {benefits.plan_end.isoformat()})" if benefits.plan_end else ""
        reason = f"coverage is not active{ended}"
        return _not_estimated(session_date, reason, [line("coverage", reason)])
    if benefits.carve_out is not None:
        who = benefits.carve_out
        at = f" at {phone(who.phone)}" if who.phone else ""
        reason = f"mental health is handled by {who.name}: ask them{at} for benefits"
        text = f"No estimate: {reason} (the plan's general lines do not apply)"
        return _not_estimated(session_date, reason, [line("carve_out", text)], ask=who)
    if network == "in" and not has_benefit(benefits.in_network):
        reason = "the 271 shows no in-network mental-health benefit"
        if has_benefit(benefits.out_of_network):
            reason += "; the plan covers it only out of network"
        return _not_estimated(session_date, reason, [line("coverage", reason)], network=network)
    return None


def _reset_line(before: AccumulatorState, after: AccumulatorState) -> Explanation:
    figures = [
        f"{what} {money(r.value) if what != 'visits' else r.value}"
        for what, r in (
            ("deductible", after.deductible),
            ("out-of-pocket", after.out_of_pocket),
            ("visits", after.visits),
        )
        if r is not None
    ]
    text = (
        f"New plan year: the plan year ended {before.year_end.isoformat()}, so this session "
        f"starts from reset accumulators ({', '.join(figures) or 'no figures reported'}) for the "
        f"plan year ending {after.year_end.isoformat()}"
    )
    source = after.deductible.source if after.deductible else None
    return line("plan_year_reset", text, source=source)


def _cost_share(
    tier: TierBenefits, allowed: int, state: AccumulatorState, lines: list[Explanation]
) -> tuple[int, int] | None:
    """The member's share of `allowed` before the out-of-pocket cap and the deductible in it."""
    deductible = state.deductible
    applied = min(deductible.value, allowed) if deductible else 0
    if deductible is None:
        lines.append(line("missing", "No deductible reported for MH or 30: assumed none applies"))
    else:
        if deductible.value == 0:
            text = "Deductible met: " + describe_remaining("deductible", deductible)
        else:
            text = f"Deductible: {money(applied)} of {money(allowed)} goes to the deductible ("
            text += describe_remaining("deductible", deductible) + ")"
        lines.append(line("deductible", text, applied, deductible.source))
    rest = allowed - applied
    copay, coinsurance = tier.copay, tier.coinsurance
    if copay is not None and (coinsurance is None or copay.cents > 0 or coinsurance.value == 0):
        share = min(copay.cents, rest)
        text = f"Copay: {money(copay.cents)} per visit, {from_source(copay.source)}"
        if share < copay.cents:
            text += f"; never more than the {money(rest)} left after the deductible"
        if coinsurance is not None and coinsurance.value > 0:
            text += f"; the payer also gives {percent(coinsurance.value)} coinsurance: assumed "
            text += "the copay applies instead"
        lines.append(line("copay", text, share, copay.source))
    elif coinsurance is not None:
        share = half_up(rest * coinsurance.value)
        text = f"Coinsurance: {percent(coinsurance.value)} of the {money(rest)} left after the "
        text += f"deductible, {from_source(coinsurance.source)} (rounded half up to the cent)"
        lines.append(line("coinsurance", text, share, coinsurance.source))
    elif rest == 0:
        share = 0
        text = f"{_NO_COST_SHARE}; not needed here: the deductible takes the whole amount"
        lines.append(line("missing", text[0].upper() + text[1:]))
    else:
        text = f"{_NO_COST_SHARE}: the share after the deductible is unknown"
        lines.append(line("missing", text[0].upper() + text[1:]))
        return None
    return applied + share, applied


def _cap(share: int, state: AccumulatorState, lines: list[Explanation]) -> int:
    oop = state.out_of_pocket
    if oop is None:
        lines.append(line("missing", "No out-of-pocket maximum reported for MH or 30: no cap"))
        return share
    if share <= oop.value:
        return share
    text = f"Out-of-pocket cap: {describe_remaining('out-of-pocket', oop)}, so the share is "
    text += f"{money(oop.value)} instead of {money(share)}"
    lines.append(line("oop_cap", text, share - oop.value, oop.source))
    return oop.value


def _visit_left(state: AccumulatorState, lines: list[Explanation]) -> bool:
    visits = state.visits
    if visits is None:
        return True
    if visits.value > 0:
        text = describe_remaining("Visit limit:", visits, unit="visits")
        lines.append(line("visit_limit", f"{text}; this session uses one", None, visits.source))
        return True
    return False


def _member_share(
    tier: TierBenefits, allowed: int, state: AccumulatorState, lines: list[Explanation]
) -> tuple[int, AccumulatorState] | None:
    """The member's capped share of `allowed` and the state after it; None: not estimable."""
    shared = _cost_share(tier, allowed, state, lines)
    if shared is None:
        return None
    share, deductible = shared
    share = _cap(share, state, lines)
    # A capped share pays the deductible first; what the cap took off is not the client's.
    used = consume(
        state,
        deductible=min(deductible, share),
        out_of_pocket=share,
        visits=0 if state.visits is None else 1,
    )
    return share, used


def _exhausted(state: AccumulatorState, allowed: int, lines: list[Explanation]) -> None:
    visits = state.visits
    assert visits is not None
    text = f"Visit limit used up (no visits left {from_source(visits.source)}): the plan pays "
    text += f"nothing for this session, so the client owes the allowed amount {money(allowed)}"
    lines.append(line("visit_limit", text, allowed, visits.source))


def _in_network(
    benefits: Benefits,
    allowed: int | None,
    session_date: date,
    state: AccumulatorState,
    lines: list[Explanation],
) -> SessionEstimate:
    if allowed is None:
        reason = "no fee schedule: the payer's allowed amount for this CPT code is not known"
        lines.append(line("missing", reason[0].upper() + reason[1:]))
        return _not_estimated(session_date, reason, lines, network="in", state=state)
    if not _visit_left(state, lines):
        _exhausted(state, allowed, lines)
        client, after = allowed, state  # not covered: it counts toward no accumulator
    else:
        shared = _member_share(benefits.in_network, allowed, state, lines)
        if shared is None:
            return _not_estimated(session_date, _NO_COST_SHARE, lines, network="in", state=state)
        client, after = shared
    return SessionEstimate(
        session_date=session_date,
        status="estimated",
        network="in",
        price_cents=allowed,
        client_cents=client,
        insurer_cents=allowed - client,
        allowed_cents=allowed,
        before=state,
        after=after,
        lines=lines,
    )


def _reimbursement(
    tier: TierBenefits,
    self_pay: int,
    oon_allowed: int | None,
    state: AccumulatorState,
    lines: list[Explanation],
) -> tuple[int | None, str | None, int | None, AccumulatorState]:
    """Expected reimbursement, why there is none, the allowed amount used, the state after."""
    if not has_benefit(tier):
        return None, "the 271 shows no out-of-network mental-health benefit", None, state
    if oon_allowed is None:
        reason = "no out-of-network allowed amount is entered for this payer and CPT code"
        return None, reason, None, state
    # Payers reimburse on the lesser of the billed charge and their allowed amount.
    allowed = min(oon_allowed, self_pay)
    text = f"Out-of-network allowed amount {money(oon_allowed)} (entered by ops)"
    if allowed < oon_allowed:
        text += f", limited to the {money(self_pay)} charged"
    lines.append(line("out_of_network", text, allowed))
    if not _visit_left(state, lines):
        _exhausted(state, allowed, lines)
        return 0, "the visit limit is used up", allowed, state
    shared = _member_share(tier, allowed, state, lines)
    if shared is None:
        return None, _NO_COST_SHARE, allowed, state
    share, after = shared
    return allowed - share, None, allowed, after


def _out_of_network(
    benefits: Benefits,
    self_pay: int | None,
    oon_allowed: int | None,
    session_date: date,
    state: AccumulatorState,
    lines: list[Explanation],
) -> SessionEstimate:
    if self_pay is None:
        reason = "no self-pay rate: the provider has no rate for this CPT code"
        lines.append(line("missing", reason[0].upper() + reason[1:]))
        return _not_estimated(session_date, reason, lines, network="out", state=state)
    text = f"Out of network: the client pays the provider's self-pay rate {money(self_pay)} and "
    text += "may claim reimbursement from the plan with a superbill"
    lines.append(line("out_of_network", text, self_pay))
    tier = benefits.out_of_network
    reimbursed, why, allowed, after = _reimbursement(tier, self_pay, oon_allowed, state, lines)
    if reimbursed is None:
        lines.append(line("missing", f"No expected reimbursement: {why}"))
    else:
        text = f"Expected reimbursement {money(reimbursed)}: the allowed amount less the "
        text += "client's deductible and coinsurance or copay (information, not a promise)"
        lines.append(line("out_of_network", text, reimbursed))
    return SessionEstimate(
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
        lines=lines,
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
) -> SessionEstimate:
    """One session's shares from the 271's benefits and the running accumulator state.

    `network` is the tier that applies (the caller decides; see `choose_network`), and `state`
    its accumulators (`initial_state`, or the `after` of the session before). In network the
    price is `allowed_cents` (None: no fee schedule); out of network it is `self_pay_cents` and
    `oon_allowed_cents` (ops-entered, or None) gives the expected reimbursement.
    """
    if state.network != network:
        raise ValueError(f"accumulators are for the {state.network} tier, not {network}")
    blocked = _blocked(benefits, network, session_date)
    if blocked is not None:
        return blocked
    lines = notes(benefits)
    if session_date > state.year_end:
        reset = reset_state(benefits, state, session_date)
        lines.append(_reset_line(state, reset))
        state = reset
    if tier_of(benefits, network).prior_auth_required:
        lines.append(line("prior_auth", "The payer requires prior authorization for this care"))
    if network == "in":
        return _in_network(benefits, allowed_cents, session_date, state, lines)
    return _out_of_network(benefits, self_pay_cents, oon_allowed_cents, session_date, state, lines)
