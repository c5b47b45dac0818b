"""Turning the 271's EB lines into `schemas.eligibility.Benefits` (pure, no I/O).

Each figure comes from the mental-health (MH) lines when they give it, else from the health
benefit plan coverage (30) lines, and records which. A benefit for any other service type
(98 office visit, say) never stands in for MH. An accumulator's individual and family figures
come from one source together: MH when it gives either, else 30 (never MH's individual beside
30's family one).

Status: EB01 `1`-`5` active, `6`-`8` inactive; with neither for MH or 30 (only `R`, `L`, `MC`,
`B`...) the status is `unknown`, never guessed. A copay is kept whatever its EB06 period, with
that period; the per-visit one (EB06 absent or 27) is preferred and the others named in a note.
A carve-out (MH handled by another entity in 2120C/2120D) leaves the plan active and covered
where its own lines say so; only the MH figures are empty. A figure out of range (a negative
amount, a coinsurance above 100%) is dropped with a note and a warning naming its EB segment;
the rest of the answer stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from schemas.eligibility import (
    Accumulator,
    Benefits,
    CarveOut,
    Cents,
    Count,
    CoverageStatus,
    Fraction,
    Period,
    Rejection,
    Source,
    TierBenefits,
)
from services.eligibility.x12.x271 import TRANSIENT_AAA, Answer, EbLine, Entity

Tier = Literal["in", "out"]
T = TypeVar("T")

ACTIVE = frozenset({"1", "2", "3", "4", "5"})  # 2-5: capitated, pending investigation
INACTIVE = frozenset({"6", "7", "8"})
# EB06 (and HSD05) time period codes by name.
PERIODS: dict[str, Period] = {
    "6": "hour",
    "7": "day",
    "13": "24_hours",
    "21": "years",
    "22": "service_year",
    "23": "calendar_year",
    "24": "year_to_date",
    "25": "contract",
    "26": "episode",
    "27": "visit",
    "28": "outlier",
    "29": "remaining",
    "30": "exceeded",
    "31": "not_exceeded",
    "32": "lifetime",
    "33": "lifetime_remaining",
    "34": "month",
    "35": "week",
    "36": "admission",
}
_TOTAL_PERIODS = frozenset({"", "22", "23", "25", "32"})  # service/calendar/contract/lifetime
# A visit limit may be stated per any span of time; these periods are not a limit's span.
_NOT_A_LIMIT = frozenset({"24", "28", "29", "30", "31", "33"})
_PER_VISIT = frozenset({"", "27"})
_CARVE_OUT_ENTITIES = frozenset({"PR", "VN"})
_MONEY = {"B": "copay", "C": "deductible", "G": "out-of-pocket maximum"}


@dataclass(slots=True)
class _Notes:
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, note: str) -> None:
        if note not in self.lines:
            self.lines.append(note)

    def warn(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)


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


@dataclass(frozen=True, slots=True)
class _Copay:
    amount: Cents
    period: Period | None
    others: tuple[str, ...]  # the copays not used, in words


def _period_words(code: str) -> str:
    if code in _PER_VISIT:
        return "per visit"
    return f"per {PERIODS[code].replace('_', ' ')}" if code in PERIODS else f"EB06 {code}"


def _copay(lines: list[EbLine], src: Source) -> _Copay | None:
    """Every copay is kept with its period; the per-visit one (EB06 absent or 27) first."""
    copays = [line for line in lines if line.code == "B" and line.amount is not None]
    if not copays:
        return None
    chosen = next((line for line in copays if line.period in _PER_VISIT), copays[0])
    amount = chosen.amount or 0
    others = tuple(
        dict.fromkeys(
            f"${(line.amount or 0) / 100:,.2f} {_period_words(line.period)}"
            for line in copays
            if (line.amount, line.period) != (chosen.amount, chosen.period)
        )
    )
    return _Copay(Cents(cents=amount, source=src), PERIODS.get(chosen.period), others)


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


@dataclass(frozen=True, slots=True)
class _Visits:
    limit: Count | None
    remaining: Count | None
    period: Period | None  # the limit's period (HSD05, else EB06), never `remaining`


def _visits(lines: list[EbLine], src: Source) -> _Visits | None:
    limit = remaining = used = None
    limit_period = ""
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
            elif period not in _NOT_A_LIMIT and limit is None:
                limit, limit_period = value, period
    if remaining is None and limit is not None and used is not None:
        remaining = max(limit - used, 0)
    if limit is None and remaining is None:
        return None
    return _Visits(
        Count(value=limit, source=src) if limit is not None else None,
        Count(value=remaining, source=src) if remaining is not None else None,
        PERIODS.get(limit_period) if limit is not None else None,
    )


def _auth(lines: list[EbLine], src: Source) -> bool | None:
    flags = {line.auth for line in lines if line.auth in ("Y", "N")}
    return True if "Y" in flags else (False if flags else None)


def _covered(lines: list[EbLine], src: Source) -> bool | None:
    if any(line.code in ACTIVE for line in lines):
        return True
    return False if any(line.code in INACTIVE or line.code == "I" for line in lines) else None


def _accumulators(
    code: str,
) -> Callable[[list[EbLine], Source], tuple[Accumulator | None, Accumulator | None] | None]:
    """Individual and family together, so both come from one source (MH, else 30)."""
    individual, family = _accumulator(code, False), _accumulator(code, True)

    def read(
        lines: list[EbLine], src: Source
    ) -> tuple[Accumulator | None, Accumulator | None] | None:
        found = individual(lines, src), family(lines, src)
        return None if found == (None, None) else found

    return read


def _tier(lines: list[EbLine], tier: Tier, notes: _Notes, carved_out: bool) -> TierBenefits:
    by_source: dict[Source, list[EbLine]] = {"MH": [], "30": []}
    for line in lines:
        src = _source(line)
        if src is not None and tier in _tiers(line):
            by_source[src].append(line)
    label = "in network" if tier == "in" else "out of network"
    mh_active = any(line.code in ACTIVE for line in by_source["MH"])
    if any(line.code == "I" for line in by_source["MH"]) and not mh_active:
        # MH is explicitly not covered in this tier: the plan's 30 lines must not stand in.
        notes.add(f"{label}: the payer says mental health is not covered")
        return TierBenefits(covered=False)
    covered = bool(_pick(by_source, _covered, f"{label} coverage", notes))
    if carved_out:
        # The plan's own (30) lines say whether it covers this tier; none of its figures are
        # MH's, so only MH lines other than the carve-out's may give figures.
        by_source["30"] = []

    def pick(read: Callable[[list[EbLine], Source], T | None], what: str) -> T | None:
        return _pick(by_source, read, f"{label} {what}", notes)

    deductible = _merge(*(pick(_accumulators("C"), "deductible") or (None, None)))
    oop = _merge(*(pick(_accumulators("G"), "out-of-pocket maximum") or (None, None)))
    for what, accumulator in (("deductible", deductible), ("out-of-pocket maximum", oop)):
        _note_half(by_source, accumulator, f"{label} {what}", notes)
    copay = pick(_copay, "copay")
    if copay is not None and copay.others:
        notes.add(
            f"{label} copay: the payer also gives {', '.join(copay.others)}; "
            f"the {_period_words_of(copay.period)} is used"
        )
    visits = pick(_visits, "visit limit")
    return TierBenefits(
        covered=covered,
        copay=copay.amount if copay else None,
        copay_period=copay.period if copay else None,
        coinsurance=pick(_coinsurance, "coinsurance"),
        deductible=deductible,
        out_of_pocket=oop,
        visit_limit=visits.limit if visits else None,
        visits_remaining=visits.remaining if visits else None,
        visit_limit_period=visits.period if visits else None,
        prior_auth_required=pick(_auth, "prior authorization"),
    )


def _period_words_of(period: Period | None) -> str:
    if period in (None, "visit"):
        return "per-visit copay"
    return f"copay per {period.replace('_', ' ')}"


def _note_half(
    by_source: dict[Source, list[EbLine]], taken: Accumulator, what: str, notes: _Notes
) -> None:
    """Say so when MH gave one of individual/family and 30's other one was left unused."""
    first = taken.total or taken.remaining or taken.family_total or taken.family_remaining
    if first is None or first.source != "MH":
        return
    code = "C" if "deductible" in what else "G"
    for family, label in ((False, "individual"), (True, "family")):
        mine = (
            (taken.family_total, taken.family_remaining)
            if family
            else (
                taken.total,
                taken.remaining,
            )
        )
        if mine == (None, None) and _accumulator(code, family)(by_source["30"], "30"):
            notes.add(f"{what}: MH gives no {label} figure; service type 30's is not mixed in")


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


def _status(answer: Answer, relevant: list[EbLine], carved_out: bool) -> CoverageStatus:
    if any(line.code in ACTIVE for line in relevant):
        return "active"
    if any(line.code in INACTIVE for line in relevant):
        return "inactive"
    if carved_out:  # EB*U**MH naming the MH payer, and nothing about the plan itself
        return "active"
    if answer.rejections or not answer.subscriber_found:
        return "rejected"
    return "unknown"  # only R, L, MC, B...: the payer said nothing about coverage


def _in_range(lines: list[EbLine], notes: _Notes) -> list[EbLine]:
    """The lines with any figure out of range dropped (noted and warned, by EB segment)."""
    kept: list[EbLine] = []
    for line in lines:
        where = f"EB at segment {line.position} ({line.code}, {_source(line)})"
        if line.code in _MONEY and line.amount is not None and line.amount < 0:
            notes.add(f"{where}: a negative {_MONEY[line.code]} (EB07) is not used")
            notes.warn(f"EB07 in {where} is negative; not used")
            line = replace(line, amount=None)
        if line.code == "A" and line.percent is not None and not 0 <= line.percent <= 100:
            notes.add(f"{where}: a coinsurance (EB08) outside 0-100% is not used")
            notes.warn(f"EB08 in {where} is out of range; not used")
            line = replace(line, percent=None)
        kept.append(line)
    return kept


def _plan_name(lines: list[EbLine]) -> str | None:
    """EB05 from a coverage line (EB01 1-8) first, else from any line."""
    coverage = (
        line.plan_name for line in lines if line.plan_name and line.code in ACTIVE | INACTIVE
    )
    return next(coverage, None) or next((line.plan_name for line in lines if line.plan_name), None)


def build_benefits(answer: Answer) -> Benefits:
    """The Benefits for one answered trace."""
    notes = _Notes()
    relevant = _in_range([line for line in answer.lines if _source(line) is not None], notes)
    others = sorted(
        {t for line in answer.lines if _source(line) is None for t in line.service_types}
    )
    if others:
        notes.add(f"benefits for service types {', '.join(others)} are not used for MH")
    carve, carve_lines = _carve_out(relevant)
    if carve is not None:
        # The plan's general (30) lines describe the plan, not who pays for MH: they say
        # whether the plan covers each tier, never what MH costs.
        relevant = [line for line in relevant if line not in carve_lines]
        notes.add(f"mental health is carved out to {carve.name}: no figures from this plan")
    elif relevant and not any(_source(line) == "MH" for line in relevant):
        notes.add("the payer sent no MH lines: every figure comes from service type 30")
    status = _status(answer, relevant + carve_lines, carve is not None)
    if status == "unknown":
        notes.add(
            "the payer's answer says nothing about coverage for MH or the plan (no EB01 1-8):"
            " ask the payer"
        )
    plan_begin, plan_end = _plan_dates(answer)
    in_network = _tier(relevant, "in", notes, carve is not None)
    out_of_network = _tier(relevant, "out", notes, carve is not None)
    return Benefits(
        status=status,
        trace=answer.trace,
        member_id=answer.member_id,
        plan_name=_plan_name(answer.lines),
        plan_begin=plan_begin,
        plan_end=plan_end,
        in_network=in_network,
        out_of_network=out_of_network,
        carve_out=carve,
        rejections=[
            Rejection(
                loop=a.loop, code=a.code, follow_up=a.follow_up, transient=a.code in TRANSIENT_AAA
            )
            for a in answer.rejections
        ],
        notes=notes.lines,
        warnings=[*answer.warnings, *notes.warnings],
    )
