"""A tiny 835 reader for the simulator's tests: the figures a poster balances, and the checks.

Deliberately not services/' parser (the remittance issue's, tested on its own): reading the
simulator's files with a second, independent reader is what makes the balancing test mean
something. Amounts are integer cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.x12tools import x12valid_errors

# The CORE names the simulator serves 835s under (infra/clearinghouse/caqh_core.py).
REQUEST_835 = "X12_835_Request_005010X221A1"
RESPONSE_835 = "X12_835_Response_005010X221A1"
NO_RESULTS = "X12_NoBatchResultsFile"


def cents(value: str) -> int:
    negative = value.startswith("-")
    whole, _, frac = value.lstrip("-").partition(".")
    amount = int(whole or "0") * 100 + int((frac + "00")[:2])
    return -amount if negative else amount


def adjustments(seg: list[str]) -> list[tuple[str, str, int]]:
    """(group, CARC, amount) for each of a CAS segment's up to six triplets."""
    found = []
    for start in range(2, len(seg), 3):
        if seg[start]:
            found.append((seg[1], seg[start], cents(seg[start + 1])))
    return found


@dataclass
class Service:
    segment: list[str]
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    allowed: int | None = None
    remarks: list[str] = field(default_factory=list)

    @property
    def charge(self) -> int:
        return cents(self.segment[2])

    @property
    def paid(self) -> int:
        return cents(self.segment[3])


@dataclass
class ClaimPayment:
    segment: list[str]
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)  # NM101 -> the segment
    remarks: list[str] = field(default_factory=list)  # MOA

    @property
    def id(self) -> str:
        return self.segment[1]

    @property
    def status(self) -> str:
        return self.segment[2]

    @property
    def amounts(self) -> tuple[int, int, int]:
        """(CLP03 charge, CLP04 paid, CLP05 patient responsibility)."""
        return cents(self.segment[3]), cents(self.segment[4]), cents(self.segment[5])

    @property
    def payer_claim_number(self) -> str:
        return self.segment[7]

    def all_adjustments(self) -> list[tuple[str, str, int]]:
        return self.adjustments + [adj for svc in self.services for adj in svc.adjustments]


@dataclass
class Payment:
    """One ST/SE of an 835."""

    segments: list[list[str]]
    claims: list[ClaimPayment] = field(default_factory=list)
    plb: list[tuple[str, str, int]] = field(default_factory=list)  # (code, reference, amount)

    def first(self, tag: str) -> list[str]:
        return next(seg for seg in self.segments if seg[0] == tag)


def split(text: str) -> list[list[str]]:
    element, component, terminator = text[3], text[104], text[105]
    assert component == ":"
    return [raw.strip().split(element) for raw in text.split(terminator) if raw.strip()]


class _Reader:
    def __init__(self) -> None:
        self.payments: list[Payment] = []
        self.claim: ClaimPayment | None = None
        self.service: Service | None = None
        self.inside = False  # between ST and SE

    def segment(self, seg: list[str]) -> None:
        tag = seg[0]
        if tag == "ST":
            self.payments.append(Payment([]))
            self.claim, self.service, self.inside = None, None, True
        if self.inside:
            self.payments[-1].segments.append(seg)
        self.inside = self.inside and tag != "SE"
        if tag == "CLP":
            self.claim, self.service = ClaimPayment(seg), None
            self.payments[-1].claims.append(self.claim)
        elif tag == "PLB":
            self.claim = self.service = None
            for start in range(3, len(seg), 2):
                code, _, reference = seg[start].partition(":")
                self.payments[-1].plb.append((code, reference, cents(seg[start + 1])))
        elif self.claim is not None:
            self.in_claim(self.claim, seg)

    def in_claim(self, claim: ClaimPayment, seg: list[str]) -> None:
        tag, service = seg[0], self.service
        if tag == "SVC":
            self.service = Service(seg)
            claim.services.append(self.service)
        elif tag == "CAS":
            (service or claim).adjustments.extend(adjustments(seg))
        elif tag == "NM1":
            claim.names[seg[1]] = seg
        elif tag == "MOA":
            claim.remarks += [code for code in seg[3:8] if code]
        elif service is None:
            return
        elif tag == "REF":
            service.references[seg[1]] = seg[2]
        elif tag == "AMT" and seg[1] == "B6":
            service.allowed = cents(seg[2])
        elif tag == "LQ":
            service.remarks.append(seg[2])


def read(text: str) -> list[Payment]:
    reader = _Reader()
    for seg in split(text):
        reader.segment(seg)
    return reader.payments


def _envelope_errors(segs: list[list[str]]) -> list[str]:
    errors = []
    isa, iea = segs[0], segs[-1]
    if iea[1] != str(sum(1 for seg in segs if seg[0] == "GS")) or iea[2] != isa[13]:
        errors.append(f"IEA {iea}")
    for index, seg in enumerate(segs):
        if seg[0] == "GE":
            gs = next(s for s in reversed(segs[:index]) if s[0] == "GS")
            start = segs.index(gs)
            sets = sum(1 for s in segs[start:index] if s[0] == "ST")
            if seg[1] != str(sets) or seg[2] != gs[6]:
                errors.append(f"GE {seg}")
    return errors


def _claim_errors(claim: ClaimPayment) -> list[str]:
    errors = []
    charge, paid, patient = claim.amounts
    for svc in claim.services:
        if svc.charge - sum(a[2] for a in svc.adjustments) != svc.paid:
            errors.append(f"{claim.id} SVC {svc.segment}")
    if charge - sum(a[2] for a in claim.all_adjustments()) != paid:
        errors.append(f"{claim.id} CLP03 - CAS != CLP04")
    if patient != sum(a[2] for a in claim.all_adjustments() if a[0] == "PR"):
        errors.append(f"{claim.id} CLP05 != PR")
    if claim.adjustments and any(svc.adjustments for svc in claim.services):
        errors.append(f"{claim.id} adjusted at claim and line level")
    return errors


def balance_errors(text: str) -> list[str]:
    """Every envelope count and balancing rule the file breaks (empty: it balances)."""
    errors = _envelope_errors(split(text))
    for payment in read(text):
        st, se = payment.segments[0], payment.segments[-1]
        if se[0] != "SE" or se[1] != str(len(payment.segments)) or se[2] != st[2]:
            errors.append(f"SE {se}")
        for claim in payment.claims:
            errors += _claim_errors(claim)
        total = sum(claim.amounts[1] for claim in payment.claims) - sum(p[2] for p in payment.plb)
        if cents(payment.first("BPR")[2]) != total:
            errors.append(f"BPR02 {payment.first('BPR')[2]} != {total}")
    return errors


def pyx12_errors(text: str) -> list[str]:
    """x12valid's errors, less its one known defect for the 835: its map gives the footer loop
    one PLB per repeat of the loop (max 1), where the guide repeats PLB in one footer (">1"),
    so a payment with more than six provider adjustments (two PLB segments) is refused."""
    errors = x12valid_errors(text)
    if text.count("~PLB*") > 1:
        errors = [e for e in errors if "Loop FOOTER exceeded max count" not in e]
    return errors
