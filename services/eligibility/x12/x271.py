"""Reading a 005010X279A1 271: the loops of the answer to our trace (pure, no I/O).

The answer is found by its TRN*2 (our 270's TRN02 returned), never by position. A 271 that
carries subscriber loops but none with our trace is refused; one rejected at the payer or
receiver level (AAA in 2000A/2100A/2100B) before any subscriber loop is read as a rejection.

Envelope mistakes that published 271s often carry (SE01 off by one, SE02 not matching ST02, a
GE/IEA count or control number that does not match) are read past: nothing moves money on a
271. They come back as `Answer.warnings` naming the element and position, never a value. A
file that is truncated, not X12, or lacks our TRN*2 is still refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from services.core.x12 import Delimiters, X12Error, read_interchange, repeats

# AAA03 codes that mean "try again later", not a final refusal.
TRANSIENT_AAA = frozenset({"42", "80"})


class TraceMismatch(X12Error):
    """The 271 does not answer our 270: no TRN*2 carries our trace number."""


@dataclass(slots=True)
class Aaa:
    loop: str
    code: str
    follow_up: str | None


@dataclass(slots=True)
class Entity:
    """A 2120C/2120D benefit-related entity (NM1 with its PER phone)."""

    code: str
    name: str
    identifier: str | None
    phone: str | None = None


@dataclass(slots=True)
class EbLine:
    """One EB segment (loop 2110C/2110D) with the HSD, DTP and 2120 entities under it."""

    code: str  # EB01
    level: str  # EB02: IND, FAM, ... ('' when absent)
    service_types: list[str]  # EB03 repetitions; [] when absent
    plan_name: str | None  # EB05
    period: str  # EB06 ('' when absent)
    amount: int | None  # EB07 in cents
    percent: Decimal | None  # EB08 as a fraction
    quantity_qualifier: str  # EB09
    quantity: int | None  # EB10
    auth: str  # EB11
    network: str  # EB12 ('' when absent)
    position: int = 0  # the EB segment's position in its transaction set (ST is 1)
    hsd: list[list[str]] = field(default_factory=list)
    dates: dict[str, tuple[date, date | None]] = field(default_factory=dict)
    entities: list[Entity] = field(default_factory=list)


@dataclass(slots=True)
class Answer:
    """The parts of a 271 that answer one trace number."""

    trace: str
    member_id: str | None = None
    relationship_code: str | None = None  # 2100D INS02 when the patient is a dependant
    rejections: list[Aaa] = field(default_factory=list)
    dates: dict[str, tuple[date, date | None]] = field(default_factory=dict)  # 2100C/D DTP
    lines: list[EbLine] = field(default_factory=list)
    subscriber_found: bool = True
    warnings: list[str] = field(default_factory=list)  # envelope mistakes read past


@dataclass(slots=True)
class _Block:
    """An HL level with its segments: 20 source, 21 receiver, 22 subscriber, 23 dependant."""

    hl_id: str
    parent: str
    level: str
    segments: list[list[str]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # each segment's place in its set


def _el(seg: list[str], i: int) -> str:
    return seg[i] if len(seg) > i else ""


def cents(value: str) -> int:
    """An X12 money amount ("30", "30.00", "-5.5") as integer cents, refusing fractions of one."""
    try:
        amount = Decimal(value) * 100
    except InvalidOperation as exc:
        raise X12Error(f"{value!r} is not an amount") from exc
    if amount != amount.to_integral_value():
        raise X12Error(f"{value!r} has a fraction of a cent")
    return int(amount)


def _date_range(qualifier: str, value: str) -> tuple[date, date | None]:
    def one(text: str) -> date:
        if len(text) != 8 or not text.isdigit():
            raise X12Error(f"{text!r} is not a CCYYMMDD date")
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))

    if qualifier == "RD8":
        begin, _, end = value.partition("-")
        return one(begin), one(end)
    return one(value), None


def _blocks(segments: list[list[str]]) -> list[_Block]:
    blocks: list[_Block] = []
    for position, seg in enumerate(segments, start=1):
        if seg[0] == "HL":
            blocks.append(_Block(_el(seg, 1), _el(seg, 2), _el(seg, 3)))
        elif blocks and seg[0] != "SE":
            blocks[-1].segments.append(seg)
            blocks[-1].positions.append(position)
    return blocks


def find_answer(text: str, trace: str) -> Answer:
    """The loops of the first 271 transaction set in `text` that answer `trace`."""
    interchange = read_interchange(text, lenient=True)
    d = interchange.delimiters
    sets = [t for t in interchange.transactions if t.set_id == "271"]
    if not sets:
        raise X12Error("the interchange carries no 271 transaction set")
    for transaction in sets:
        blocks = _blocks(transaction.segments)
        by_id = {b.hl_id: b for b in blocks}
        for block in blocks:
            if block.level in ("22", "23") and _has_trace(block, trace):
                found = _answer(block, by_id, trace, d)
                found.warnings = list(interchange.warnings)
                return found
        people = [b for b in blocks if b.level in ("22", "23")]
        upper = [b for b in blocks if b.level in ("20", "21")]
        if not people and any(_aaa(b, d) for b in upper):
            # Rejected above the subscriber level (payer down, receiver unknown): nothing to
            # match, the AAA segments are the answer.
            answer = Answer(
                trace=trace, subscriber_found=False, warnings=list(interchange.warnings)
            )
            for b in upper:
                answer.rejections.extend(_aaa(b, d))
            return answer
    raise TraceMismatch(f"the 271 carries no TRN*2 with our trace {trace!r}")


def _has_trace(block: _Block, trace: str) -> bool:
    return any(s[0] == "TRN" and _el(s, 1) == "2" and _el(s, 2) == trace for s in block.segments)


def _loop_name(block: _Block, seg_index: int) -> str:
    """The loop an AAA stands in: 2000A/2100A, 2100B, 2100C/2110C, 2100D/2110D."""
    before = [s[0] for s in block.segments[:seg_index]]
    if block.level == "20":
        return "2100A" if "NM1" in before else "2000A"
    if block.level == "21":
        return "2100B"
    letter = "C" if block.level == "22" else "D"
    return f"2110{letter}" if "EB" in before else f"2100{letter}"


def _aaa(block: _Block, d: Delimiters) -> list[Aaa]:
    return [
        Aaa(_loop_name(block, i), _el(s, 3), _el(s, 4) or None)
        for i, s in enumerate(block.segments)
        if s[0] == "AAA"
    ]


def _answer(target: _Block, by_id: dict[str, _Block], trace: str, d: Delimiters) -> Answer:
    chain = [target]
    while chain[-1].parent in by_id and chain[-1].parent != chain[-1].hl_id:
        chain.append(by_id[chain[-1].parent])
    answer = Answer(trace=trace)
    for block in reversed(chain):  # payer, receiver, subscriber, then the dependant
        answer.rejections.extend(_aaa(block, d))
        if block.level in ("22", "23"):
            _read_person(block, answer, d, is_target=block is target)
    return answer


# One pass over a subscriber's or dependant's segments, a state machine of the 2110 EB line and
# its 2120 LS/LE loop, on the check path: split, that state would travel between functions and
# each segment would pay a call.
def _read_person(  # noqa: C901  one state machine, see above
    block: _Block, answer: Answer, d: Delimiters, *, is_target: bool
) -> None:
    current: EbLine | None = None
    in_2120 = False
    for index, (seg, position) in enumerate(zip(block.segments, block.positions, strict=True), 1):
        try:
            tag = seg[0]
            if tag == "EB" and not is_target:
                break  # a dependant's answer reads only its subscriber's name and rejections
            if tag == "NM1" and current is None:
                if _el(seg, 8) == "MI" and (block.level == "22" or not answer.member_id):
                    answer.member_id = _el(seg, 9) or None
            elif tag == "INS" and current is None and block.level == "23":
                answer.relationship_code = _el(seg, 2) or None
            elif not is_target:
                continue
            elif tag == "DTP" and current is None:
                answer.dates[_el(seg, 1)] = _date_range(_el(seg, 2), _el(seg, 3))
            elif tag == "EB":
                current = _eb(seg, d)
                current.position = position
                answer.lines.append(current)
                in_2120 = False
            elif current is None:
                continue
            elif tag == "HSD":
                current.hsd.append(seg)
            elif tag == "DTP":
                current.dates[_el(seg, 1)] = _date_range(_el(seg, 2), _el(seg, 3))
            elif tag in ("LS", "LE"):
                in_2120 = tag == "LS"
            elif tag == "NM1" and in_2120:
                current.entities.append(Entity(_el(seg, 1), _el(seg, 3), _el(seg, 9) or None))
            elif tag == "PER" and in_2120 and current.entities:
                current.entities[-1].phone = _phone(seg)
        except X12Error as exc:
            # Where, never what: the value may be a person's data (see X12Error).
            exc.where = exc.where or f"{seg[0]} (segment {index} of HL {block.hl_id})"
            raise


def _quantity(value: str) -> int:
    try:
        return int(Decimal(value))
    except (InvalidOperation, ValueError) as exc:  # "abc", "NaN", "Infinity"
        raise X12Error(f"EB10 {value!r} is not a number") from exc


def _phone(per: list[str]) -> str | None:
    for i in (3, 5, 7):  # PER03/04, 05/06, 07/08: qualifier then number
        if _el(per, i) == "TE":
            return _el(per, i + 1) or None
    return None


def _eb(seg: list[str], d: Delimiters) -> EbLine:
    amount, percent, quantity = _el(seg, 7), _el(seg, 8), _el(seg, 10)
    fraction = None
    if percent:
        try:
            fraction = Decimal(percent)
        except InvalidOperation as exc:
            raise X12Error(f"EB08 {percent!r} is not a number") from exc
    return EbLine(
        code=_el(seg, 1),
        level=_el(seg, 2),
        service_types=repeats(_el(seg, 3), d),
        plan_name=_el(seg, 5) or None,
        period=_el(seg, 6),
        amount=cents(amount) if amount else None,
        percent=fraction,
        quantity_qualifier=_el(seg, 9),
        quantity=_quantity(quantity) if quantity else None,
        auth=_el(seg, 11),
        network=_el(seg, 12),
    )
