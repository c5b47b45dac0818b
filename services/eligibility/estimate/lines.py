"""The words of an estimate: each Fact's explanation line and reason, written when rendered.

Two texts per line where it matters: ops' full text, and the client-share text a provider or a
client sees in network, which never states the allowed amount or what is left of it after the
deductible (see estimate_view.py). Assumptions about figures the payer did not give say "not
stated by the payer".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from schemas.eligibility import CarveOut, Cents, Fraction, Period, Rejection, Source
from schemas.estimates import (
    AccumulatorState,
    Basis,
    Explanation,
    ExplanationKind,
    Fact,
    Figure,
    Remaining,
)
from services.eligibility.x12.aaa import aaa_text

SOURCE_NAMES: dict[Source, str] = {"MH": "mental health (MH)", "30": "plan coverage (30)"}
FIGURE_NAMES: dict[Figure, str] = {
    "deductible": "deductible",
    "out_of_pocket": "out-of-pocket maximum",
    "visits": "visit limit",
}
PERIOD_NAMES: dict[Period, str] = {
    "hour": "hour",
    "day": "day",
    "24_hours": "24 hours",
    "years": "years",
    "service_year": "service year",
    "calendar_year": "calendar year",
    "year_to_date": "year to date",
    "contract": "contract",
    "episode": "episode",
    "visit": "visit",
    "outlier": "outlier",
    "remaining": "remaining",
    "exceeded": "exceeded",
    "not_exceeded": "not exceeded",
    "lifetime": "lifetime",
    "lifetime_remaining": "lifetime remaining",
    "month": "month",
    "week": "week",
    "admission": "admission",
}
NOT_STATED = "not stated by the payer for mental health (MH) or plan coverage (30)"


_CENTS = [f".{part:02d}" for part in range(100)]  # format specs are slow; a table is not


def money(cents: int) -> str:
    if cents < 0:
        return "-" + money(-cents)
    whole, part = divmod(cents, 100)
    return "$" + (str(whole) if whole < 1000 else f"{whole:,}") + _CENTS[part]


def percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def from_source(source: Source) -> str:
    return f"from the {SOURCE_NAMES[source]} lines"


def _where(source: Source | None) -> str:
    return f", {from_source(source)}" if source else ""


BASIS_WORDS: dict[Basis, str] = {
    "individual": "remaining",
    "family": "remaining for the family",
    "reset": "remaining (the plan year's full amount)",
    "assumed_total": "remaining, assumed: the payer gave the plan year's total but not what is "
    "used, so none is assumed used",
}


def describe_remaining(what: str, remaining: Remaining, *, unit: str = "money") -> str:
    figure = money(remaining.value) if unit == "money" else f"{remaining.value}"
    basis = BASIS_WORDS[remaining.basis]
    if remaining.other is not None:
        larger = "family" if remaining.basis == "individual" else "individual"
        shown = money(remaining.other) if unit == "money" else f"{remaining.other}"
        basis += f" (the {larger} has {shown} left: the smaller applies)"
    return f"{what} {figure} {basis}, {from_source(remaining.source)}"


def phone(number: str) -> str:
    if len(number) == 10 and number.isdigit():
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    return number


def rejection_reason(rejections: tuple[Rejection, ...] | list[Rejection]) -> tuple[str, bool]:
    """The text for a rejected 271 and whether it is transient (retry later)."""
    if any(r.transient for r in rejections):
        return "payer could not answer now; retry later", True
    if not rejections:
        return "the payer rejected the eligibility request", False
    parts = [f"{aaa_text(r.code)} (AAA {r.code} in loop {r.loop})" for r in rejections]
    return "the payer rejected the eligibility request: " + "; ".join(parts), False


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


# Periods that are spans of time ("per calendar year"); the others qualify the figure.
SPANS = frozenset(
    {
        "hour",
        "day",
        "24_hours",
        "years",
        "service_year",
        "calendar_year",
        "contract",
        "episode",
        "lifetime",
        "month",
        "week",
        "admission",
    }
)


def stated_for(period: Period) -> str:
    """How the payer states a figure's period, in words."""
    if period in SPANS:
        return f"the payer states it per {PERIOD_NAMES[period]}"
    return f"the payer states its period as {PERIOD_NAMES[period]}"


def _period(period: Period | None) -> str:
    if period is None or period in ("visit", "remaining"):
        return ""
    return f" ({stated_for(period)})"


# Reasons: why a session has no estimate, or no expected reimbursement.


def _carve_out(who: CarveOut) -> str:
    at = f" at {phone(who.phone)}" if who.phone else ""
    return f"mental health is handled by {who.name}: ask them{at} for benefits"


def _unknown_figures(figures: tuple[Figure, ...]) -> str:
    names = [FIGURE_NAMES[f] for f in figures]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def reason_text(fact: Fact, payer: str | None = None) -> str:
    kind, args = fact.kind, fact.args
    if kind == "rejected":
        return rejection_reason(args[0])[0]
    if kind == "inactive":
        ended: date | None = args[0]
        return "coverage is not active" + (f" (plan ended {ended.isoformat()})" if ended else "")
    if kind == "unknown_status":
        return (
            "the payer's answer does not say whether mental health is covered: call "
            f"{payer or 'the payer'} to ask"
        )
    if kind == "carve_out":
        return _carve_out(args[0])
    if kind == "no_in_network":
        text = "the 271 shows no in-network mental-health benefit"
        return text + ("; the plan covers it only out of network" if args[0] else "")
    if kind == "reset_unknown":
        year_end, figures = args
        return (
            f"in the plan year ending {year_end.isoformat()} the accumulators start anew, and "
            f"the 271 gave only what remains of the {_unknown_figures(figures)} this plan year, "
            "not the plan year's total: ask the payer for the new plan year's figures"
        )
    return _REASONS[kind]


_REASONS: dict[str, str] = {
    "no_fee_schedule": "no fee schedule: the payer's allowed amount for this CPT code is not known",
    "no_self_pay": "no self-pay rate: the provider has no rate for this CPT code",
    "no_oon_benefit": "the 271 shows no out-of-network mental-health benefit",
    "no_oon_allowed": "no out-of-network allowed amount is entered for this payer and CPT code",
    "visit_limit_used": "the visit limit is used up",
}


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
        text += f"; no plan-year total for the {_unknown_figures(after.unknown)}"
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
    return "visit_limit", text + _period(fact.args[1]) + "; this session uses one"


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
        return kind, prefix + text if prefix else _cap(text)

    return write


def _as_reason(kind: ExplanationKind) -> Writer:
    return lambda fact, payer: (kind, reason_text(fact, payer))


def _carve_out_line(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"No estimate: {_carve_out(fact.args[0])} (the plan's general lines do not apply)"
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
    return "deductible", text + _where(fact.source)


def _client_copay(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Copay: {money(fact.amount or 0)} for this session{_where(fact.source)}"
    return "copay", text + _copay_notes(fact)


def _client_coinsurance(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = f"Coinsurance: {money(fact.amount or 0)} for this session, on what is left after the "
    text += f"deductible{_where(fact.source)} (rounded half up to the cent)"
    return "coinsurance", text + _zero_copay(fact)


def _client_cap(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = "Out-of-pocket cap: the client's share is limited to what remains of the "
    return "oop_cap", text + f"out-of-pocket maximum{_where(fact.source)}"


def _client_used_up(fact: Fact, _: str | None) -> tuple[ExplanationKind, str]:
    text = "Visit limit used up: the plan pays nothing for this session, so the client owes "
    return "visit_limit", text + f"its whole cost{_where(fact.source)}"


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
