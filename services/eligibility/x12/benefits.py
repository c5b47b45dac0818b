"""Turning the 271's EB lines into `schemas.eligibility.Benefits` (pure, no I/O).

Each figure comes from the mental-health (MH) lines when they give it, else from the health
benefit plan coverage (30) lines, and records which. A benefit for any other service type
(98 office visit, say) never stands in for MH. A carve-out (MH handled by another entity in
2120C/2120D) means the plan's general lines say nothing about MH: no figure is derived then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from schemas.eligibility import (
    Accumulator,
    Benefits,
    CarveOut,
    Cents,
    Count,
    Fraction,
    Rejection,
    Source,
    TierBenefits,
)
from services.eligibility.x12.x271 import TRANSIENT_AAA, Answer, EbLine, Entity

Tier = Literal["in", "out"]
T = TypeVar("T")

_TOTAL_PERIODS = frozenset({"", "22", "23", "25", "32"})  # service/calendar/contract/lifetime
_CARVE_OUT_ENTITIES = frozenset({"PR", "VN"})


@dataclass(slots=True)
class _Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, note: str) -> None:
        if note not in self.lines:
            self.lines.append(note)


def _source(line: EbLine) -> Source | None:
    """MH when EB03 names it, 30 when it names 30 (or nothing, which means the plan), else None."""
    if "MH" in line.service_types:
        return "MH"
    if not line.service_types or "30" in line.service_types:
        return "30"
    return None


def _tiers(line: EbLine) -> tuple[Tier, ...]:
    if line.network == "Y":
        return ("in",)
    if line.network == "N":
        return ("out",)
    return ("in", "out")  # W both, U unknown, absent: both


def _carve_out(lines: list[EbLine]) -> tuple[CarveOut | None, list[EbLine]]:
    for line in lines:
        if _source(line) != "MH":
            continue
        entities: list[Entity] = [e for e in line.entities if e.code in _CARVE_OUT_ENTITIES]
        if entities:
            e = entities[0]
            carve = CarveOut(
                name=e.name, entity_code=e.code, identifier=e.identifier, phone=e.phone
            )
            return carve, [line]
    return None, []


def _pick(
    by_source: dict[Source, list[EbLine]],
    read: Callable[[list[EbLine], Source], T | None],
    what: str,
    notes: _Notes,
) -> T | None:
    """The figure from the MH lines, else from the 30 lines (noting the fallback)."""
    found = read(by_source["MH"], "MH")
    if found is not None:
        return found
    found = read(by_source["30"], "30")
    if found is not None:
        notes.add(f"{what}: MH lines give none, taken from service type 30")
    return found


def _copay(lines: list[EbLine], src: Source) -> Cents | None:
    for line in lines:
        if line.code == "B" and line.amount is not None and line.period in ("", "27"):
            return Cents(cents=line.amount, source=src)
    return None


def _coinsurance(lines: list[EbLine], src: Source) -> Fraction | None:
    for line in lines:
        if line.code == "A" and line.percent is not None:
            value = line.percent
            if value > 1:  # some payers send 20 for 20%
                value = value / Decimal(100)
            return Fraction(value=value, source=src)
    return None


def _accumulator(code: str, family: bool) -> Callable[[list[EbLine], Source], Accumulator | None]:
    def read(lines: list[EbLine], src: Source) -> Accumulator | None:
        total = remaining = ytd = None
        for line in lines:
            if line.code != code or line.amount is None:
                continue
            if (line.level == "FAM") != family or line.level not in ("", "IND", "FAM"):
                continue
            if line.period in _TOTAL_PERIODS and total is None:
                total = line.amount
            elif line.period == "29" and remaining is None:
                remaining = line.amount
            elif line.period == "24" and ytd is None:
                ytd = line.amount
        if remaining is None and total is not None and ytd is not None:
            remaining = max(total - ytd, 0)
        if total is None and remaining is None:
            return None
        return Accumulator(
            total=Cents(cents=total, source=src) if total is not None else None,
            remaining=Cents(cents=remaining, source=src) if remaining is not None else None,
        )

    return read


def _visits(lines: list[EbLine], src: Source) -> tuple[Count | None, Count | None] | None:
    limit = remaining = used = None
    for line in lines:
        if line.code != "F":
            continue
        counts = [
            (h[2], h[5] if len(h) > 5 and h[5] else line.period)
            for h in line.hsd
            if len(h) > 2 and h[1] == "VS" and h[2]
        ]
        if line.quantity_qualifier == "VS" and line.quantity is not None:
            counts.append((str(line.quantity), line.period))
        for quantity, period in counts:
            value = int(Decimal(quantity))
            if period == "29" and remaining is None:
                remaining = value
            elif period == "24" and used is None:
                used = value
            elif period in _TOTAL_PERIODS and limit is None:
                limit = value
    if remaining is None and limit is not None and used is not None:
        remaining = max(limit - used, 0)
    if limit is None and remaining is None:
        return None
    return (
        Count(value=limit, source=src) if limit is not None else None,
        Count(value=remaining, source=src) if remaining is not None else None,
    )


def _auth(lines: list[EbLine], src: Source) -> bool | None:
    flags = {line.auth for line in lines if line.auth in ("Y", "N")}
    return True if "Y" in flags else (False if flags else None)


def _covered(lines: list[EbLine], src: Source) -> bool | None:
    if any(line.code == "1" for line in lines):
        return True
    return False if any(line.code in ("6", "I") for line in lines) else None


def _tier(lines: list[EbLine], tier: Tier, notes: _Notes) -> TierBenefits:
    by_source: dict[Source, list[EbLine]] = {"MH": [], "30": []}
    for line in lines:
        src = _source(line)
        if src is not None and tier in _tiers(line):
            by_source[src].append(line)
    label = "in network" if tier == "in" else "out of network"
    if any(line.code == "I" for line in by_source["MH"]) and not any(
        line.code == "1" for line in by_source["MH"]
    ):
        # MH is explicitly not covered in this tier: the plan's 30 lines must not stand in.
        notes.add(f"{label}: the payer says mental health is not covered")
        return TierBenefits(covered=False)

    def pick(read: Callable[[list[EbLine], Source], T | None], what: str) -> T | None:
        return _pick(by_source, read, f"{label} {what}", notes)

    deductible = _merge(
        pick(_accumulator("C", False), "deductible"),
        pick(_accumulator("C", True), "family deductible"),
    )
    oop = _merge(
        pick(_accumulator("G", False), "out-of-pocket maximum"),
        pick(_accumulator("G", True), "family out-of-pocket maximum"),
    )
    visits = pick(_visits, "visit limit") or (None, None)
    return TierBenefits(
        covered=bool(pick(_covered, "coverage")),
        copay=pick(_copay, "copay"),
        coinsurance=pick(_coinsurance, "coinsurance"),
        deductible=deductible,
        out_of_pocket=oop,
        visit_limit=visits[0],
        visits_remaining=visits[1],
        prior_auth_required=pick(_auth, "prior authorization"),
    )


def _merge(individual: Accumulator | None, family: Accumulator | None) -> Accumulator:
    ind = individual or Accumulator()
    fam = family or Accumulator()
    return Accumulator(
        total=ind.total,
        remaining=ind.remaining,
        family_total=fam.total,
        family_remaining=fam.remaining,
    )


def _plan_dates(answer: Answer) -> tuple[date | None, date | None]:
    dates = dict(answer.dates)
    for line in answer.lines:  # benefit-level dates only where the 2100 loop gives none
        if _source(line) is not None:
            for qualifier, value in line.dates.items():
                dates.setdefault(qualifier, value)
    begin = dates["346"][0] if "346" in dates else None
    end = dates["347"][0] if "347" in dates else None
    if "291" in dates:
        begin = begin or dates["291"][0]
        end = end or dates["291"][1]
    return begin, end


def _status(
    answer: Answer, relevant: list[EbLine], carved_out: bool
) -> Literal["active", "inactive", "rejected"]:
    if any(line.code == "1" for line in relevant):
        return "active"
    if any(line.code == "6" for line in relevant):
        return "inactive"
    if carved_out:  # EB*U**MH naming the MH payer, and nothing about the plan itself
        return "active"
    if answer.rejections or not answer.subscriber_found:
        return "rejected"
    return "inactive"


def build_benefits(answer: Answer) -> Benefits:
    """The Benefits for one answered trace."""
    notes = _Notes()
    relevant = [line for line in answer.lines if _source(line) is not None]
    others = sorted(
        {t for line in answer.lines if _source(line) is None for t in line.service_types}
    )
    if others:
        notes.add(f"benefits for service types {', '.join(others)} are not used for MH")
    carve, carve_lines = _carve_out(relevant)
    if carve is not None:
        # The plan's general (30) lines describe the plan, not who pays for MH: derive nothing.
        relevant = [
            line
            for line in relevant
            if _source(line) == "MH" and line not in carve_lines and line.code not in ("1", "6")
        ]
        notes.add(f"mental health is carved out to {carve.name}: no figures from this plan")
    elif relevant and not any(_source(line) == "MH" for line in relevant):
        notes.add("the payer sent no MH lines: every figure comes from service type 30")
    status = _status(
        answer, [line for line in answer.lines if _source(line) is not None], carve is not None
    )
    plan_begin, plan_end = _plan_dates(answer)
    plan_name = next(
        (line.plan_name for line in answer.lines if line.plan_name and line.code in ("1", "6")),
        None,
    )
    return Benefits(
        status=status,
        trace=answer.trace,
        member_id=answer.member_id,
        plan_name=plan_name,
        plan_begin=plan_begin,
        plan_end=plan_end,
        in_network=_tier(relevant, "in", notes),
        out_of_network=_tier(relevant, "out", notes),
        carve_out=carve,
        rejections=[
            Rejection(
                loop=a.loop, code=a.code, follow_up=a.follow_up, transient=a.code in TRANSIENT_AAA
            )
            for a in answer.rejections
        ],
        notes=notes.lines,
    )
