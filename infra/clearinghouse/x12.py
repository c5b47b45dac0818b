"""The payers' own X12 for 005010X279A1: a 270 reader and a 271 writer.

Shares nothing with services/: a round trip through the simulator checks both codecs. The
reader takes its delimiters from the ISA (element separator: 4th character; ISA11 repetition
separator; ISA16 component separator; the character after ISA16, found by counting 16
elements, ends segments). The writer answers with the 270's own delimiters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class X12Error(ValueError):
    """The payload is not a readable 005010X279A1 270."""


@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"


def read_delimiters(text: str) -> tuple[Delimiters, int]:
    """The interchange's delimiters and where its ISA starts."""
    start = text.find("ISA")
    if start < 0 or len(text) < start + 4:
        raise X12Error("no ISA segment")
    element = text[start + 3]
    pos = start + 3
    for _ in range(15):  # ISA16 follows the 16th element separator
        pos = text.find(element, pos + 1)
        if pos < 0:
            raise X12Error("ISA has fewer than 16 elements")
    if pos + 2 >= len(text):
        raise X12Error("ISA is cut short")
    component = text[pos + 1]
    segment = text[pos + 2]
    isa = text[start : pos + 2].split(element)
    repetition = isa[11]
    if len(repetition) != 1 or segment.isalnum() or component.isalnum():
        raise X12Error("ISA delimiters are not usable")
    return Delimiters(element, repetition, component, segment), start


def split_segments(text: str) -> tuple[Delimiters, list[list[str]]]:
    delims, start = read_delimiters(text)
    segments = []
    for raw in text[start:].split(delims.segment):
        raw = raw.strip("\r\n")
        if raw:
            segments.append(raw.split(delims.element))
    return delims, segments


def el(segment: list[str], index: int) -> str:
    return segment[index] if len(segment) > index else ""


def parse_d8(value: str) -> date:
    # D8 is exactly CCYYMMDD; fromisoformat reads that form in a tenth of a microsecond where
    # strptime took ten (twice a 270, on the simulator's share of the bench's CPU).
    if len(value) != 8 or not value.isdigit():
        raise X12Error(f"bad date {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise X12Error(f"bad date {value!r}") from error


@dataclass
class Person270:
    """A subscriber (2100C) or dependant (2100D) as the 270 names them."""

    last: str = ""
    first: str = ""
    member_id: str | None = None
    dob: date | None = None
    gender: str | None = None
    relationship: str | None = None  # INS02 (dependant)
    traces: list[list[str]] = field(default_factory=list)  # TRN segments as sent
    service_date: date | None = None  # DTP*291 (start of a range)
    service_types: list[str] = field(default_factory=list)  # EQ01 values, in order


@dataclass
class Inquiry270:
    delimiters: Delimiters
    isa_sender: tuple[str, str]  # (qualifier, id)
    isa_receiver: tuple[str, str]
    usage: str  # ISA15 T or P
    gs_sender: str
    gs_receiver: str
    reference: str  # BHT03
    payer_name: str = ""
    payer_id: str = ""
    provider_entity: str = "2"  # NM102
    provider_last: str = ""
    provider_first: str = ""
    provider_qualifier: str = ""
    provider_id: str = ""
    subscriber: Person270 = field(default_factory=Person270)
    dependant: Person270 | None = None


def _person_segment(person: Person270, seg: list[str], delims: Delimiters) -> None:
    tag = seg[0]
    if tag == "TRN":
        person.traces.append(seg)
    elif tag == "NM1":
        person.last, person.first = el(seg, 3), el(seg, 4)
        if el(seg, 8) == "MI" and el(seg, 9):
            person.member_id = el(seg, 9)
    elif tag == "DMG" and el(seg, 1) == "D8":
        person.dob = parse_d8(el(seg, 2))
        person.gender = el(seg, 3) or None
    elif tag == "INS":
        person.relationship = el(seg, 2) or None
    elif tag == "DTP" and el(seg, 1) == "291":
        value = el(seg, 3)
        person.service_date = parse_d8(value.split("-")[0] if el(seg, 2) == "RD8" else value)
    elif tag == "EQ":
        codes = el(seg, 1).split(delims.repetition) if el(seg, 1) else []
        person.service_types.extend(code for code in codes if code)


def read_270(text: str) -> Inquiry270:
    """One 270 transaction (one subscriber, at most one dependant), as a CORE real-time request."""
    delims, segments = split_segments(text)
    inquiry = _envelope(delims, segments)
    _read_loops(inquiry, delims, segments)
    if not inquiry.subscriber.last and not inquiry.subscriber.member_id:
        raise X12Error("no subscriber (2000C/2100C)")
    return inquiry


def _envelope(delims: Delimiters, segments: list[list[str]]) -> Inquiry270:
    """The inquiry's envelope and header (ISA, GS, ST, BHT), its loops still empty."""
    isa = segments[0]
    if len(isa) != 17:
        raise X12Error("ISA must have 16 elements")
    tags = [seg[0] for seg in segments]
    for needed in ("GS", "ST", "BHT", "SE", "GE", "IEA"):
        if needed not in tags:
            raise X12Error(f"no {needed} segment")
    gs, st, bht = (segments[tags.index(tag)] for tag in ("GS", "ST", "BHT"))
    if el(st, 1) != "270" or el(gs, 8) != "005010X279A1":
        raise X12Error("not a 005010X279A1 270")
    return Inquiry270(
        delimiters=delims,
        isa_sender=(isa[5], isa[6].strip()),
        isa_receiver=(isa[7], isa[8].strip()),
        usage=isa[15],
        gs_sender=el(gs, 2),
        gs_receiver=el(gs, 3),
        reference=el(bht, 3),
    )


def _read_loops(inquiry: Inquiry270, delims: Delimiters, segments: list[list[str]]) -> None:
    """The payer (2000A), provider (2000B), subscriber (2000C) and dependant (2000D) loops."""
    level = ""
    for seg in segments:
        if seg[0] == "HL":
            level = el(seg, 3)
            if level == "23":
                inquiry.dependant = Person270()
            continue
        if level == "20" and seg[0] == "NM1":
            inquiry.payer_name, inquiry.payer_id = el(seg, 3), el(seg, 9)
        elif level == "21" and seg[0] == "NM1":
            inquiry.provider_entity = el(seg, 2) or "2"
            inquiry.provider_last, inquiry.provider_first = el(seg, 3), el(seg, 4)
            inquiry.provider_qualifier, inquiry.provider_id = el(seg, 8), el(seg, 9)
        elif level == "22":
            _person_segment(inquiry.subscriber, seg, delims)
        elif level == "23" and inquiry.dependant is not None:
            _person_segment(inquiry.dependant, seg, delims)


# --- the 271 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    code: str  # AAA03
    follow_up: str = "C"  # AAA04
    valid: str = "N"  # AAA01: Y the request was valid, N it was not


@dataclass(frozen=True)
class Entity:
    """A loop 2120C/2120D benefit-related entity (a carve-out's payer)."""

    code: str  # NM101, e.g. PR
    name: str
    qualifier: str  # NM108, e.g. PI
    identifier: str
    phone: str | None = None


@dataclass(frozen=True)
class Benefit:
    """One EB segment and what hangs under it (HSD, the 2120 entity)."""

    code: str  # EB01
    service_types: tuple[str, ...]
    level: str = ""  # EB02 IND / FAM
    insurance_type: str = ""  # EB04
    description: str = ""  # EB05
    period: str = ""  # EB06
    amount_cents: int | None = None  # EB07
    percent: Decimal | None = None  # EB08, a fraction
    auth: str = ""  # EB11 Y/N/U
    network: str = ""  # EB12 Y/N/W/U
    quantities: tuple[tuple[str, int, str], ...] = ()  # HSD: (HSD01, HSD02, HSD05)
    entity: Entity | None = None


@dataclass
class Person271:
    last: str
    first: str
    member_id: str | None
    dob: date | None
    gender: str | None = None
    relationship: str | None = None  # INS02 for a dependant
    references: list[tuple[str, str]] = field(default_factory=list)  # REF qualifier, value
    rejections: list[Rejection] = field(default_factory=list)
    dates: list[tuple[str, date]] = field(default_factory=list)  # DTP qualifier, D8
    benefits: list[Benefit] = field(default_factory=list)


@dataclass
class Response271:
    payer_name: str
    payer_id: str
    provider_entity: str
    provider_last: str
    provider_first: str
    provider_qualifier: str
    provider_id: str
    subscriber: Person271
    traces: list[list[str]]  # TRN*2 segments for the loop that answers (2000C or 2000D)
    dependant: Person271 | None = None
    payer_rejections: list[Rejection] = field(default_factory=list)
    provider_rejections: list[Rejection] = field(default_factory=list)


def money(cents: int) -> str:
    """X12 R type in dollars: trailing zeros after the point suppressed (2550 -> 25.5)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac:02d}".rstrip("0")


def fraction(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text[1:] if text.startswith("0.") else text


class Writer:
    def __init__(self, delims: Delimiters) -> None:
        self.delims = delims
        self.segments: list[str] = []

    def add(self, *elements: str) -> None:
        values = list(elements)
        while values and values[-1] == "":
            values.pop()
        self.segments.append(self.delims.element.join(values))

    def text(self) -> str:
        return "".join(segment + self.delims.segment for segment in self.segments)


def _write_benefit(w: Writer, benefit: Benefit) -> None:
    d = w.delims
    w.add(
        "EB", benefit.code, benefit.level, d.repetition.join(benefit.service_types),
        benefit.insurance_type, benefit.description, benefit.period,
        "" if benefit.amount_cents is None else money(benefit.amount_cents),
        "" if benefit.percent is None else fraction(benefit.percent),
        "", "", benefit.auth, benefit.network,
    )  # fmt: skip
    for qualifier, quantity, period in benefit.quantities:
        w.add("HSD", qualifier, str(quantity), "", "", period)
    if benefit.entity is not None:
        entity = benefit.entity
        w.add("LS", "2120")
        w.add("NM1", entity.code, "2", entity.name, "", "", "", "", entity.qualifier,
              entity.identifier)  # fmt: skip
        if entity.phone:
            w.add("PER", "IC", "", "TE", entity.phone)
        w.add("LE", "2120")


def _write_person(w: Writer, person: Person271, code: str) -> None:
    entity_type = "IL" if code == "C" else "03"
    w.add("NM1", entity_type, "1", person.last, person.first, "", "", "",
          "MI" if person.member_id else "", person.member_id or "")  # fmt: skip
    for qualifier, value in person.references:
        w.add("REF", qualifier, value)
    for rejection in person.rejections:
        w.add("AAA", rejection.valid, "", rejection.code, rejection.follow_up)
    if person.dob is not None:
        w.add("DMG", "D8", person.dob.strftime("%Y%m%d"), person.gender or "")
    if person.relationship:
        w.add("INS", "N", person.relationship)
    for qualifier, day in person.dates:
        w.add("DTP", qualifier, "D8", day.strftime("%Y%m%d"))
    for benefit in person.benefits:
        _write_benefit(w, benefit)


@dataclass(frozen=True)
class Control:
    """Interchange and group control number (ISA13 = GS06) and when the answer was made."""

    number: int
    at: datetime


def answer_delimiters(asked: Delimiters) -> Delimiters:
    """The 270's delimiters, except a line break as segment terminator: `~` then.

    Line breaks after segments are commonly taken for cosmetic wrapping and stripped (and
    linuxforhealth-x12 reads no transaction from such a file), so the answer never ends its
    segments with one.
    """
    if asked.segment in "\r\n":
        return Delimiters(asked.element, asked.repetition, asked.component, "~")
    return asked


def write_271(inquiry: Inquiry270, response: Response271, control: Control) -> str:
    d = answer_delimiters(inquiry.delimiters)
    w = Writer(d)
    # The answer's date and time, formatted once for ISA, GS and BHT.
    day, hour = control.at.strftime("%Y%m%d"), control.at.strftime("%H%M")
    w.add(
        "ISA", "00", " " * 10, "00", " " * 10,
        inquiry.isa_receiver[0], inquiry.isa_receiver[1].ljust(15),
        inquiry.isa_sender[0], inquiry.isa_sender[1].ljust(15),
        day[2:], hour, d.repetition, "00501",
        f"{control.number:09d}", "0", inquiry.usage, d.component,
    )  # fmt: skip
    w.add("GS", "HB", inquiry.gs_receiver, inquiry.gs_sender, day, hour, str(control.number),
          "X", "005010X279A1")  # fmt: skip
    st_index = len(w.segments)
    w.add("ST", "271", "0001", "005010X279A1")
    w.add("BHT", "0022", "11", inquiry.reference, day, hour)
    w.add("HL", "1", "", "20", "1")
    w.add("NM1", "PR", "2", response.payer_name, "", "", "", "", "PI", response.payer_id)
    for rejection in response.payer_rejections:
        w.add("AAA", rejection.valid, "", rejection.code, rejection.follow_up)
    w.add("HL", "2", "1", "21", "1")
    w.add("NM1", "1P", response.provider_entity, response.provider_last,
          response.provider_first, "", "", "", response.provider_qualifier,
          response.provider_id)  # fmt: skip
    for rejection in response.provider_rejections:
        w.add("AAA", rejection.valid, "", rejection.code, rejection.follow_up)
    has_dependant = response.dependant is not None
    w.add("HL", "3", "2", "22", "1" if has_dependant else "0")
    if not has_dependant:
        for trace in response.traces:
            w.add("TRN", "2", *trace[2:])
    _write_person(w, response.subscriber, "C")
    if response.dependant is not None:
        w.add("HL", "4", "3", "23", "0")
        for trace in response.traces:
            w.add("TRN", "2", *trace[2:])
        _write_person(w, response.dependant, "D")
    w.add("SE", str(len(w.segments) - st_index + 1), "0001")
    w.add("GE", "1", str(control.number))
    w.add("IEA", "1", f"{control.number:09d}")
    return w.text()
