"""The words an estimate is written in: money, sources, periods, remaining figures, reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from schemas.eligibility import CarveOut, Period, Rejection, Source
from schemas.estimates import Basis, Fact, Figure, Remaining
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


def where(source: Source | None) -> str:
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


def capital(text: str) -> str:
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


def period_note(period: Period | None) -> str:
    if period is None or period in ("visit", "remaining"):
        return ""
    return f" ({stated_for(period)})"


# Reasons: why a session has no estimate, or no expected reimbursement.


def carve_out_text(who: CarveOut) -> str:
    at = f" at {phone(who.phone)}" if who.phone else ""
    return f"mental health is handled by {who.name}: ask them{at} for benefits"


def unknown_figures(figures: tuple[Figure, ...]) -> str:
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
        return carve_out_text(args[0])
    if kind == "no_in_network":
        text = "the 271 shows no in-network mental-health benefit"
        return text + ("; the plan covers it only out of network" if args[0] else "")
    if kind == "reset_unknown":
        year_end, figures = args
        return (
            f"in the plan year ending {year_end.isoformat()} the accumulators start anew, and "
            f"the 271 gave only what remains of the {unknown_figures(figures)} this plan year, "
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
