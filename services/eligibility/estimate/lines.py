"""Explanation lines and the words in them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from schemas.eligibility import Benefits, Rejection, Source
from schemas.estimates import Explanation, ExplanationKind, Remaining
from services.eligibility.x12.aaa import aaa_text

SOURCE_NAMES: dict[Source, str] = {"MH": "mental health (MH)", "30": "plan coverage (30)"}


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def half_up(amount: Decimal) -> int:
    """Round to the cent, halves up (Decimal, never float)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_source(source: Source) -> str:
    return f"from the {SOURCE_NAMES[source]} lines"


def line(
    kind: ExplanationKind, text: str, amount: int | None = None, source: Source | None = None
) -> Explanation:
    return Explanation(kind=kind, text=text, amount_cents=amount, source=source)


def describe_remaining(what: str, remaining: Remaining, *, unit: str = "money") -> str:
    figure = money(remaining.value) if unit == "money" else f"{remaining.value}"
    basis = {
        "individual": "remaining",
        "family": "remaining for the family",
        "reset": "remaining (the plan year's full amount)",
        "assumed_total": "remaining, assumed: the payer gave the plan year's total but not "
        "what is used, so none is assumed used",
    }[remaining.basis]
    if remaining.other is not None:
        larger = "family" if remaining.basis == "individual" else "individual"
        basis += f" (the {larger} has {money(remaining.other)} left: the smaller applies)"
    return f"{what} {figure} {basis}, {from_source(remaining.source)}"


def phone(number: str) -> str:
    if len(number) == 10 and number.isdigit():
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    return number


def rejection_reason(rejections: list[Rejection]) -> tuple[str, bool]:
    """The text for a rejected 271 and whether it is transient (retry later)."""
    if any(r.transient for r in rejections):
        return "payer could not answer now; retry later", True
    if not rejections:
        return "the payer rejected the eligibility request", False
    parts = [f"{aaa_text(r.code)} (AAA {r.code} in loop {r.loop})" for r in rejections]
    return "the payer rejected the eligibility request: " + "; ".join(parts), False


def notes(benefits: Benefits) -> list[Explanation]:
    return [line("note", text) for text in benefits.notes]
