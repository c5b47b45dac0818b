"""The payers' own 837P (005010X222A1) reader: the interchange, its sets and their claims.

Shares nothing with services/ (the claims issue writes its own 837): a round trip checks both.
Interchange problems raise `InterchangeError` with a TA105 note code (the whole interchange is
refused, answered by a TA1 and no 999); a set's problems are kept on the set (`SetError`) for
its 999 IK5; a claim's content problems are the 277CA's and the adjudicator's, not read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from infra.clearinghouse.x12 import Delimiters, X12Error, el, money, parse_d8, split_segments

VERSION = "005010X222A1"
FREQUENCIES = ("1", "7", "8")


@dataclass(frozen=True)
class InterchangeError(Exception):
    """The interchange is refused: TA104 R with this TA105 note code."""

    code: str  # 001 control numbers differ, 008 receiver, 017 version, 021 group count, ...
    message: str


@dataclass(frozen=True)
class Isa:
    """What a TA1 or an acknowledgement needs from the interchange header."""

    delimiters: Delimiters
    sender: tuple[str, str]  # (ISA05, ISA06)
    receiver: tuple[str, str]  # (ISA07, ISA08)
    control: str  # ISA13
    day: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    usage: str  # ISA15


@dataclass
class Line:
    number: int  # LX01
    cpt: str
    modifiers: tuple[str, ...]
    charge: int  # cents
    units: str
    pointers: str
    day: date | None = None  # DTP*472
    control: str = ""  # REF*6R


@dataclass
class Party:
    """A person named in the claim: the subscriber (2010BA) or a patient (2010CA)."""

    last: str = ""
    first: str = ""
    member_id: str = ""
    dob: date | None = None
    relationship: str = ""  # PAT01 for a patient loop; "18" for a subscriber who is the patient


@dataclass
class Claim:
    id: str  # CLM01
    charge: int  # CLM02, cents
    place: str  # CLM05-1
    frequency: str  # CLM05-3
    set_control: str  # ST02 of its transaction set
    billing_npi: str
    billing_name: str
    payer_id: str
    payer_name: str
    subscriber: Party
    patient: Party | None  # a dependant in 2000C; None: the subscriber is the patient
    position: int  # the CLM segment's position in its set (ST = 1), for a 999 IK3
    original: str = ""  # REF*F8
    prior_auth: str = ""  # REF*G1
    rendering_npi: str = ""  # 2310B NM109 (the billing provider's when absent)
    rendering_name: tuple[str, str] = ("", "")  # 2310B (last, first)
    billing_tin: str = ""  # 2010AA REF*EI
    facility: bool = False  # 2310C present
    lines: list[Line] = field(default_factory=list)

    @property
    def first_day(self) -> date | None:
        days = [line.day for line in self.lines if line.day is not None]
        return min(days) if days else None

    @property
    def last_day(self) -> date | None:
        days = [line.day for line in self.lines if line.day is not None]
        return max(days) if days else None


@dataclass(frozen=True)
class SegmentError:
    """One IK3 (with its IK4 when an element is at fault) for a 999."""

    segment: str  # IK301
    position: int  # IK302
    loop: str  # IK303
    code: str  # IK304
    claim_id: str = ""  # CTX*CLM01
    element: str = ""  # IK401 (position, "5:3" for a component)
    element_ref: str = ""  # IK402
    element_code: str = ""  # IK403
    value: str = ""  # IK404


@dataclass
class TransactionSet:
    control: str  # ST02
    reference: str  # BHT03
    claims: list[Claim] = field(default_factory=list)
    errors: list[SegmentError] = field(default_factory=list)
    syntax: list[str] = field(default_factory=list)  # IK502.. codes for the set itself


@dataclass
class Interchange:
    isa: Isa
    gs_sender: str
    gs_receiver: str
    gs_control: str
    submitter_id: str = ""
    submitter_name: str = ""
    sets: list[TransactionSet] = field(default_factory=list)
    group_errors: list[str] = field(default_factory=list)  # AK905.. codes


def money_cents(value: str) -> int:
    """X12 R type dollars to integer cents."""
    whole, _, frac = value.partition(".")
    if not (whole.lstrip("-").isdigit() or whole in ("", "-")) or not (frac + "0").isdigit():
        raise X12Error(f"bad amount {value!r}")
    cents = int(whole.lstrip("-") or "0") * 100 + int((frac + "00")[:2])
    return -cents if whole.startswith("-") else cents


def read_isa(text: str) -> tuple[Isa, list[list[str]]]:
    """The interchange header and every segment; X12Error when there is no ISA to answer."""
    delims, segments = split_segments(text)
    isa = segments[0]
    if len(isa) != 17:
        raise X12Error("ISA must have 16 elements")
    header = Isa(delims, (isa[5], isa[6].strip()), (isa[7], isa[8].strip()), isa[13], isa[9],
                 isa[10], isa[15])  # fmt: skip
    return header, segments


def _check_interchange(isa: Isa, segments: list[list[str]], parties: tuple[str, str]) -> None:
    """InterchangeError (TA1) for what the ISA/IEA envelope refuses."""
    sender_id, receiver_id = parties
    if segments[0][12] != "00501":
        raise InterchangeError("017", "ISA12 must be 00501")
    if not (len(isa.control) == 9 and isa.control.isdigit()):
        raise InterchangeError("018", "ISA13 must be nine digits")
    if isa.sender[1] != sender_id:
        raise InterchangeError("006", f"ISA06 must be the CORE SenderID {sender_id}")
    if isa.receiver[1] != receiver_id:
        raise InterchangeError("008", f"ISA08 must be {receiver_id}")
    if segments[-1][0] != "IEA":
        raise InterchangeError("023", "the interchange does not end with IEA")
    iea = segments[-1]
    if el(iea, 2) != isa.control:
        raise InterchangeError("001", "ISA13 and IEA02 differ")
    if el(iea, 1) != str(sum(1 for seg in segments if seg[0] == "GS")):
        raise InterchangeError("021", "IEA01 does not count the groups")
    groups = [seg for seg in segments if seg[0] == "GS"]
    if len(groups) != 1:
        raise InterchangeError("024", "one functional group per interchange")
    if el(groups[0], 1) != "HC" or el(groups[0], 8) != VERSION:
        raise InterchangeError("024", f"the group must be HC {VERSION}")


def read_837(isa: Isa, segments: list[list[str]], parties: tuple[str, str]) -> Interchange:
    """One interchange with one functional group of 837P sets (read_isa's result), sent by
    parties[0] (the CORE SenderID) to parties[1] (this clearinghouse)."""
    _check_interchange(isa, segments, parties)
    start = next(index for index, seg in enumerate(segments) if seg[0] == "GS")
    gs = segments[start]
    interchange = Interchange(isa, el(gs, 2), el(gs, 3), el(gs, 6))
    body = segments[start + 1 : -1]
    if not body or body[-1][0] != "GE":
        interchange.group_errors.append("3")  # functional group trailer missing
    else:
        ge = body.pop()
        if el(ge, 2) != el(gs, 6):
            interchange.group_errors.append("4")  # group control numbers differ
        if el(ge, 1) != str(sum(1 for seg in body if seg[0] == "ST")):
            interchange.group_errors.append("5")  # set count differs
    for chunk in _sets(body):
        interchange.sets.append(_read_set(interchange, chunk, isa.delimiters))
    return interchange


def _sets(body: list[list[str]]) -> list[list[list[str]]]:
    chunks: list[list[list[str]]] = []
    for seg in body:
        if seg[0] == "ST" or not chunks:
            chunks.append([])
        chunks[-1].append(seg)
    return chunks


def _read_set(interchange: Interchange, segs: list[list[str]], d: Delimiters) -> TransactionSet:
    st, se = segs[0], segs[-1]
    bht = next((seg for seg in segs if seg[0] == "BHT"), [])
    tset = TransactionSet(control=el(st, 2), reference=el(bht, 3))
    if el(st, 1) != "837" or el(st, 3) != VERSION:
        tset.syntax.append("1")  # transaction set not supported
    if se[0] != "SE":
        tset.syntax.append("2")  # trailer missing
    elif el(se, 2) != el(st, 2):
        tset.syntax.append("3")  # control numbers differ
    elif el(se, 1) != str(len(segs)):
        tset.syntax.append("4")  # segment count differs
    if not tset.syntax:
        _Reader(interchange, tset, d).read(segs)
    return tset


class _Reader:
    """Walks one set's segments, keeping the loop context each claim needs."""

    def __init__(self, interchange: Interchange, tset: TransactionSet, d: Delimiters) -> None:
        self.interchange, self.tset, self.d = interchange, tset, d
        self.level = ""
        self.billing = ("", "")
        self.billing_tin = ""
        self.payer = ("", "")
        self.subscriber = Party()
        self.patient: Party | None = None
        self.claim: Claim | None = None
        self.line: Line | None = None

    def read(self, segs: list[list[str]]) -> None:
        for position, seg in enumerate(segs, start=1):
            try:
                self.segment(seg, position)
            except ValueError:  # a bad amount, date or number: the segment has element errors
                found = SegmentError(seg[0], position, self.loop(), "8", claim_id=self.claim_id())
                self.tset.errors.append(found)
        for claim in self.tset.claims:
            self.check_claim(claim)

    def loop(self) -> str:
        if self.line is not None:
            return "2400"
        return "2300" if self.claim is not None else ""

    def claim_id(self) -> str:
        return self.claim.id if self.claim is not None else ""

    def segment(self, seg: list[str], position: int) -> None:
        tag = seg[0]
        if tag == "HL":
            self.hierarchy(seg)
        elif tag == "NM1":
            self.name(seg)
        elif tag == "PAT" and self.patient is not None:
            self.patient.relationship = el(seg, 1)
        elif tag == "DMG" and el(seg, 1) == "D8" and self.claim is None:
            person = self.patient if self.patient is not None else self.subscriber
            person.dob = parse_d8(el(seg, 2))
        elif tag == "CLM":
            self.start_claim(seg, position)
        elif tag == "REF":
            self.reference(seg)
        elif tag == "LX" and self.claim is not None:
            self.line = Line(int(el(seg, 1) or "0"), "", (), 0, "", "")
            self.claim.lines.append(self.line)
        elif tag == "SV1" and self.line is not None:
            procedure = el(seg, 1).split(self.d.component)
            self.line.cpt, self.line.modifiers = el(procedure, 1), tuple(procedure[2:])
            self.line.charge, self.line.units = money_cents(el(seg, 2)), el(seg, 4)
            self.line.pointers = el(seg, 7)
        elif tag == "DTP" and el(seg, 1) == "472" and self.line is not None:
            self.line.day = parse_d8(el(seg, 3).split("-")[0])

    def hierarchy(self, seg: list[str]) -> None:
        self.level, self.claim, self.line = el(seg, 3), None, None
        if self.level == "22":
            self.subscriber, self.patient = Party(), None
        elif self.level == "23":
            self.patient = Party()

    def name(self, seg: list[str]) -> None:
        entity, last, first, ident = el(seg, 1), el(seg, 3), el(seg, 4), el(seg, 9)
        if entity == "41":
            self.interchange.submitter_name, self.interchange.submitter_id = last, ident
        elif entity == "85":
            self.billing = (ident, last)
        elif entity == "PR":
            self.payer = (ident, last)
        elif entity == "IL":
            self.subscriber.last, self.subscriber.first = last, first
            self.subscriber.member_id = ident
        elif entity == "QC" and self.patient is not None:
            self.patient.last, self.patient.first = last, first
        elif entity == "82" and self.claim is not None:
            self.claim.rendering_npi, self.claim.rendering_name = ident, (last, first)
        elif entity == "77" and self.claim is not None:
            self.claim.facility = True

    def start_claim(self, seg: list[str], position: int) -> None:
        place = el(seg, 5).split(self.d.component)
        self.line = None
        self.claim = Claim(
            id=el(seg, 1), charge=money_cents(el(seg, 2) or "0"), place=el(place, 0),
            frequency=el(place, 2), set_control=self.tset.control, billing_npi=self.billing[0],
            billing_name=self.billing[1], billing_tin=self.billing_tin, payer_id=self.payer[0],
            payer_name=self.payer[1],
            subscriber=self.subscriber, patient=self.patient, position=position,
        )  # fmt: skip
        self.tset.claims.append(self.claim)

    def reference(self, seg: list[str]) -> None:
        qualifier, value = el(seg, 1), el(seg, 2)
        if self.claim is None:
            if self.level == "20" and qualifier == "EI":
                self.billing_tin = value
            return
        if self.line is not None:
            if qualifier == "6R":
                self.line.control = value
        elif qualifier == "F8":
            self.claim.original = value
        elif qualifier == "G1":
            self.claim.prior_auth = value

    def check_claim(self, claim: Claim) -> None:
        """The guide's own claim rules that pyx12's structure check does not cover."""
        if not claim.rendering_npi:
            claim.rendering_npi = claim.billing_npi  # no 2310B: the billing provider rendered it
        if claim.frequency not in FREQUENCIES:
            self.tset.errors.append(SegmentError("CLM", claim.position, "2300", "8", claim.id,
                                                 "5:3", "1325", "7", claim.frequency))  # fmt: skip
        total = sum(line.charge for line in claim.lines)
        if total != claim.charge:
            # CLM02 must equal the sum of the lines' SV102: the guide's rule, not the syntax's.
            self.tset.errors.append(
                SegmentError("CLM", claim.position, "2300", "8", claim.id, "2", "782", "I12",
                             money(claim.charge))
            )  # fmt: skip
