"""Explanation lines: each Fact's text, written when an estimate is rendered.

Two texts per line where it matters: ops' full text, and the client-share text a provider or a
client sees in network, which never states the allowed amount or what is left of it after the
deductible (see estimate_view.py). Assumptions about figures the payer did not give say "not
stated by the payer". The words themselves are in words.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from schemas.eligibility import Cents, Fraction, Period
from schemas.estimates import AccumulatorState, Explanation, ExplanationKind, Fact, Remaining

from .words import (
    NOT_STATED,
    capital,
    carve_out_text,
    describe_remaining,
    from_source,
    money,
    percent,
    period_note,
    reason_text,
    stated_for,
    unknown_figures,
    where,
)

# Explanation lines: (kind, text) for a Fact; the full text (ops, or out of network).

Writer = Callable[[Fact, str | None], tuple[ExplanationKind, str]]


def _reset(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    ended: date = fact.args[0]
    after: AccumulatorState = fact.args[1]
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
        f"New plan year: the plan year ended {ended.isoformat()}, so this session starts from "
        f"reset accumulators ({', '.join(figures) or 'no figures reported'}) for the plan year "
        f"ending {after.year_end.isoformat()}"
    )
    if after.unknown:
        text += f"; no plan-year total for the {unknown_figures(after.unknown)}"
    return "plan_year_reset", text


def _deductible(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    price: int = fact.args[0]
    remaining: Remaining = fact.args[1]
    if remaining.value == 0:
        return "deductible", "Deductible met: " + describe_remaining("deductible", remaining)
    text = f"Deductible: {money(fact.amount or 0)} of {money(price)} goes to the deductible ("
    return "deductible", text + describe_remaining("deductible", remaining) + ")"


def _copay_notes(fact: Fact) -> str:
    period: Period | None = fact.args[2]
    also: Fraction | None = fact.args[3]
    text = ""
    if period is not None and period != "visit":
        text += f"; {stated_for(period)}: charged at each visit"
    if also is not None:
        text += f"; the payer also gives {percent(also.value)} coinsurance: assumed the copay "
        text += "applies instead"
    return text


def _copay(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    copay: int = fact.args[0]
    rest: int = fact.args[1]
    text = f"Copay: {money(copay)} per visit, {from_source(fact.source)}"  # type: ignore[arg-type]
    if (fact.amount or 0) < copay:
        text += f"; never more than the {money(rest)} left after the deductible"
    return "copay", text + _copay_notes(fact)


def _zero_copay(fact: Fact) -> str:
    zero: Cents | None = fact.args[2]
    if zero is None:
        return ""
    return f"; the payer's {money(0)} copay beside it means the coinsurance applies"


def _coinsurance(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    coinsurance: Fraction = fact.args[0]
    rest: int = fact.args[1]
    text = f"Coinsurance: {percent(coinsurance.value)} of the {money(rest)} left after the "
    text += f"deductible, {from_source(coinsurance.source)} (rounded half up to the cent)"
    return "coinsurance", text + _zero_copay(fact)


def _cap_line(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    oop: Remaining = fact.args[0]
    share: int = fact.args[1]
    text = f"Out-of-pocket cap: {describe_remaining('out-of-pocket', oop)}, so the share is "
    return "oop_cap", text + f"{money(oop.value)} instead of {money(share)}"


def _visit(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    visits: Remaining = fact.args[0]
    text = describe_remaining("Visit limit:", visits, unit="visits")
    return "visit_limit", text + period_note(fact.args[1]) + "; this session uses one"


def _used_up(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Visit limit used up (no visits left {from_source(fact.source)}): "  # type: ignore[arg-type]
    if fact.args[0] == "out":
        return "visit_limit", text + "the plan reimburses nothing for this session"
    text += "the plan pays nothing for this session, so the client owes the allowed amount "
    return "visit_limit", text + money(fact.amount or 0)


def _oon_allowed(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    oon_allowed, self_pay = fact.args
    text = f"Out-of-network allowed amount {money(oon_allowed)} (entered by ops)"
    if self_pay < oon_allowed:
        text += f", limited to the {money(self_pay)} charged"
    return "out_of_network", text


def _fixed(kind: ExplanationKind, text: str) -> Writer:
    return lambda fact, payer: (kind, text)


def _reason_line(kind: ExplanationKind, prefix: str = "") -> Writer:
    def write(fact: Fact, payer: str | None) -> tuple[ExplanationKind, str]:
        text = reason_text(fact, payer)
        return kind, prefix + text if prefix else capital(text)

    return write


def _as_reason(kind: ExplanationKind) -> Writer:
    return lambda fact, payer: (kind, reason_text(fact, payer))


def _carve_out_line(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"No estimate: {carve_out_text(fact.args[0])} (the plan's general lines do not apply)"
    return "carve_out", text


def _self_pay(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Out of network: the client pays the provider's self-pay rate {money(fact.amount or 0)}"
    return "out_of_network", text + " and may claim reimbursement from the plan with a superbill"


def _reimbursement(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Expected reimbursement {money(fact.amount or 0)}: the allowed amount less the "
    text += "client's deductible and coinsurance or copay, within the out-of-network "
    return "out_of_network", text + "out-of-pocket maximum (information, not a promise)"


FULL: dict[str, Writer] = {
    "rejected": _as_reason("coverage"),
    "inactive": _as_reason("coverage"),
    "unknown_status": _as_reason("coverage"),
    "no_in_network": _as_reason("coverage"),
    "carve_out": _carve_out_line,
    "note": lambda fact, payer: ("note", fact.args[0]),
    "prior_auth": _fixed("prior_auth", "The payer requires prior authorization for this care"),
    "plan_year_reset": _reset,
    "reset_unknown": _reason_line("missing"),
    "no_fee_schedule": _reason_line("missing"),
    "no_self_pay": _reason_line("missing"),
    "deductible": _deductible,
    "no_deductible": _fixed("missing", f"Deductible {NOT_STATED}: assumed none"),
    "copay": _copay,
    "coinsurance": _coinsurance,
    "no_cost_share": _fixed(
        "missing",
        f"Copay and coinsurance {NOT_STATED}: assumed nothing is owed after the deductible",
    ),
    "oop_cap": _cap_line,
    "no_out_of_pocket": _fixed("missing", f"Out-of-pocket maximum {NOT_STATED}: assumed no cap"),
    "visit": _visit,
    "visits_used_up": _used_up,
    "self_pay": _self_pay,
    "oon_allowed": _oon_allowed,
    "reimbursement": _reimbursement,
    "no_oon_benefit": _reason_line("missing", "No expected reimbursement: "),
    "no_oon_allowed": _reason_line("missing", "No expected reimbursement: "),
    "visit_limit_used": _reason_line("missing", "No expected reimbursement: "),
}


# The client-share texts: what a provider or a client sees in network (estimate_view.py).


def _client_deductible(fact: Fact, payer: str | None) -> tuple[ExplanationKind, str]:
    if not fact.amount:
        return _deductible(fact, payer)
    text = f"Deductible: {money(fact.amount)} of this session goes to the deductible"
    return "deductible", text + where(fact.source)


def _client_copay(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Copay: {money(fact.amount or 0)} for this session{where(fact.source)}"
    return "copay", text + _copay_notes(fact)


def _client_coinsurance(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Coinsurance: {money(fact.amount or 0)} for this session, on what is left after the "
    text += f"deductible{where(fact.source)} (rounded half up to the cent)"
    return "coinsurance", text + _zero_copay(fact)


def _client_cap(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = "Out-of-pocket cap: the client's share is limited to what remains of the "
    return "oop_cap", text + f"out-of-pocket maximum{where(fact.source)}"


def _client_used_up(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = "Visit limit used up: the plan pays nothing for this session, so the client owes "
    return "visit_limit", text + f"its whole cost{where(fact.source)}"


CLIENT_SHARE: dict[str, Writer] = {
    **FULL,
    "deductible": _client_deductible,
    "copay": _client_copay,
    "coinsurance": _client_coinsurance,
    "oop_cap": _client_cap,
    "visits_used_up": _client_used_up,
}
# Amounts a client-share line leaves out: the share the cap took off gives the uncapped share.
HIDDEN_AMOUNTS = frozenset({"oop_cap"})


def explain(fact: Fact, *, full: bool = True, payer: str | None = None) -> Explanation:
    """The explanation line for `fact`: ops' full text, or the client-share text."""
    kind, text = (FULL if full else CLIENT_SHARE)[fact.kind](fact, payer)
    amount = None if not full and fact.kind in HIDDEN_AMOUNTS else fact.amount
    return Explanation(kind=kind, text=text, amount_cents=amount, source=fact.source)
