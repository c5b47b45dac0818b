"""The 005010X222A1 837P professional claim Hearth sends (pure, no I/O).

One interchange per payer: ISA/GS, one ST…SE with the platform as the billing provider (2000A)
and every claim below it, GE/IEA. Claims of one subscriber and patient share their 2000B (and
2000C) loops. pyx12 passes a CLM02 that does not add up, a frequency of 6 and a 25-character
CLM01, so those and the other rules payers enforce are checked here, each error naming its field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from schemas.x837 import Batch, Claim, Line, Patient, PostalAddress, Subscriber
from services.core.identifiers import is_valid_npi, is_valid_taxonomy
from services.core.x12 import ControlNumbers, Envelope, Segment, X12Error, write_interchange

VERSION = "005010X222A1"
MAX_DIAGNOSES = 12
MAX_LINES = 50  # 2400 repeats at most 50 times in a claim
# The guide recommends at most 5,000 claims per transaction set; clearinghouses take fewer per
# file, and a smaller file loses less when a 999 rejects it whole.
MAX_CLAIMS_PER_FILE = 500
_CLM01 = re.compile(r"^[A-Z0-9]{1,17}$")
# ICD-10-CM without its dot: a letter, a digit, an alphanumeric, then up to four more.
_ICD10 = re.compile(r"^[A-Z][0-9][A-Z0-9][A-Z0-9]{0,4}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_PAT01 = {"spouse": "01", "child": "19", "other": "G8"}


def envelope_837(sender_id: str, receiver_id: str, usage: str = "P") -> Envelope:
    return Envelope(sender_id, receiver_id, "HC", VERSION, usage=usage)


def write_837(batch: Batch, *, envelope: Envelope, control: ControlNumbers, now: datetime) -> str:
    """The whole interchange (ISA…IEA) carrying one 837P with every claim of `batch`.

    BHT03 is the interchange control number: unique for each file, as the guide asks.
    """
    check_batch(batch)
    return write_interchange(
        [("837", _body(batch, f"{control.interchange:09d}", now))],
        envelope=envelope,
        control=control,
        now=now,
    )


def split_by_payer(
    claims: Iterable[Claim], max_claims: int = MAX_CLAIMS_PER_FILE
) -> list[tuple[Claim, ...]]:
    """The claims of each payer (in first-seen order) in chunks of at most `max_claims`."""
    by_payer: dict[str, list[Claim]] = {}
    for claim in claims:
        by_payer.setdefault(claim.payer.payer_id, []).append(claim)
    return [
        tuple(payer_claims[start : start + max_claims])
        for payer_claims in by_payer.values()
        for start in range(0, len(payer_claims), max_claims)
    ]


def dollars(cents: int) -> str:
    """Integer cents as X12 decimal dollars with both cent digits (15000 -> 150.00)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def check_batch(batch: Batch) -> None:
    """Refuse what payers refuse, naming the field; the message may quote a claim's CLM01."""
    if not batch.claims:
        raise X12Error("an 837 needs at least one claim")
    billing = batch.billing
    _check_npi("2010AA billing provider NPI", billing.npi)
    _check_taxonomy("2000A billing provider taxonomy (PRV03)", billing.taxonomy)
    _check_zip9("2010AA billing provider ZIP (N403)", billing.address)
    if not billing.ein.isdigit() or len(billing.ein) != 9:
        raise X12Error("2010AA REF*EI: the EIN must be 9 digits")
    payer_id = batch.claims[0].payer.payer_id
    for claim in batch.claims:
        if claim.payer.payer_id != payer_id:
            raise X12Error("2010BB payer id: one interchange carries one payer's claims")
        check_claim(claim)


def check_claim(claim: Claim) -> None:
    clm01 = claim.control_number
    if not _CLM01.fullmatch(clm01):
        raise X12Error(f"CLM01 {clm01!r}: 1 to 17 characters A-Z and 0-9")
    where = f"claim {clm01}"
    _check_codes(where, claim)
    if not 1 <= len(claim.lines) <= MAX_LINES:
        raise X12Error(f"{where}: a claim has 1 to {MAX_LINES} service lines (2400)")
    total = 0
    for number, line in enumerate(claim.lines, start=1):
        _check_line(f"{where} line {number}", line, len(claim.diagnoses))
        total += line.charge_cents
    if total != claim.charge_cents:
        raise X12Error(
            f"{where}: CLM02 {dollars(claim.charge_cents)} is not the sum of SV102 {dollars(total)}"
        )
    _check_npi(f"{where}: 2310B rendering provider NPI", claim.rendering.npi)
    _check_taxonomy(f"{where}: 2310B rendering provider taxonomy (PRV03)", claim.rendering.taxonomy)
    if claim.facility is not None:
        _check_zip9(f"{where}: 2310C service facility ZIP (N403)", claim.facility.address)
    if claim.patient is None:
        _check_subscriber_as_patient(where, claim.subscriber)


def _check_codes(where: str, claim: Claim) -> None:
    if not (len(claim.place_of_service) == 2 and claim.place_of_service.isdigit()):
        raise X12Error(f"{where}: CLM05-1 place of service must be 2 digits")
    if claim.frequency not in ("1", "7", "8"):
        raise X12Error(f"{where}: CLM05-3 frequency must be 1, 7 or 8")
    if claim.frequency != "1" and not claim.payer_claim_number:
        raise X12Error(f"{where}: frequency {claim.frequency} needs REF*F8 (payer claim number)")
    if not 1 <= len(claim.diagnoses) <= MAX_DIAGNOSES:
        raise X12Error(f"{where}: HI needs 1 to {MAX_DIAGNOSES} diagnoses")
    for code in claim.diagnoses:
        if not _ICD10.fullmatch(code):
            raise X12Error(f"{where}: HI diagnosis {code!r} is not ICD-10-CM without its dot")


def _check_line(where: str, line: Line, diagnoses: int) -> None:
    if not 1 <= len(line.pointers) <= 4:
        raise X12Error(f"{where}: SV107 needs 1 to 4 diagnosis pointers")
    for pointer in line.pointers:
        if not 1 <= pointer <= diagnoses:
            raise X12Error(f"{where}: SV107 pointer {pointer} is outside 1..{diagnoses}")
    if len(line.modifiers) > 4 or not all(_MODIFIER.fullmatch(m) for m in line.modifiers):
        raise X12Error(f"{where}: SV101 takes up to 4 modifiers of 2 letters or digits")
    if line.charge_cents <= 0:
        raise X12Error(f"{where}: SV102 charge must be positive")
    if line.units < 1:
        raise X12Error(f"{where}: SV104 units must be at least 1")


def _check_subscriber_as_patient(where: str, subscriber: Subscriber) -> None:
    if subscriber.birth_date is None or subscriber.sex is None or subscriber.address is None:
        raise X12Error(
            f"{where}: 2010BA needs the subscriber's birth date, sex and address"
            " when the subscriber is the patient"
        )


def _check_npi(field: str, npi: str) -> None:
    if not is_valid_npi(npi):
        raise X12Error(f"{field}: not an NPI (10 digits with a valid check digit)")


def _check_taxonomy(field: str, taxonomy: str) -> None:
    if not is_valid_taxonomy(taxonomy):
        raise X12Error(f"{field}: a taxonomy code is 10 characters ending in X")


def _check_zip9(field: str, address: PostalAddress) -> None:
    if not (address.zip.isdigit() and len(address.zip) == 9):
        raise X12Error(f"{field}: a 9-digit ZIP is required")


def _ymd(day: date) -> str:
    return day.isoformat().replace("-", "")  # CCYYMMDD; a quarter of strftime's time


def _address(address: PostalAddress) -> list[Segment]:
    n3: Segment = ("N3", address.line1, address.line2 or "")
    return [n3, ("N4", address.city, address.state, address.zip)]


def _body(batch: Batch, reference: str, now: datetime) -> list[Segment]:
    submitter, receiver, billing = batch.submitter, batch.receiver, batch.billing
    body: list[Segment] = [
        ("BHT", "0019", "00", reference, _ymd(now.date()), now.strftime("%H%M"), "CH"),
        ("NM1", "41", "2", submitter.name, "", "", "", "", "46", submitter.id),
        ("PER", "IC", submitter.contact.name, "TE", submitter.contact.phone),
        ("NM1", "40", "2", receiver.name, "", "", "", "", "46", receiver.id),
        ("HL", "1", "", "20", "1"),
        ("PRV", "BI", "PXC", billing.taxonomy),
        ("NM1", "85", "2", billing.name, "", "", "", "", "XX", billing.npi),
        *_address(billing.address),
        ("REF", "EI", billing.ein),
        ("PER", "IC", billing.contact.name, "TE", billing.contact.phone),
    ]
    hl = 1
    for (subscriber, patient), claims in group_claims(batch).items():
        hl += 1
        body.extend(_subscriber(hl, subscriber, patient, claims[0]))
        if patient is not None:
            hl += 1
            body.extend(_patient(hl, patient))
        for claim in claims:
            body.extend(_claim(claim))
    return body


def group_claims(batch: Batch) -> dict[tuple[Subscriber, Patient | None], list[Claim]]:
    """The batch's claims by subscriber and patient: each group shares its 2000B/2000C loops.

    A dict keeps the first appearance's order: the file follows the batch's order of people.
    """
    groups: dict[tuple[Subscriber, Patient | None], list[Claim]] = {}
    for claim in batch.claims:
        groups.setdefault((claim.subscriber, claim.patient), []).append(claim)
    return groups


def _subscriber(
    hl: int, subscriber: Subscriber, patient: Patient | None, claim: Claim
) -> list[Segment]:
    payer = claim.payer
    # SBR02 18: the patient is the subscriber (a dependant with an own member id is sent as
    # one); with a 2000C patient it stays empty and HL04 says a child loop follows.
    segments: list[Segment] = [
        ("HL", str(hl), "1", "22", "0" if patient is None else "1"),
        ("SBR", "P", "18" if patient is None else "", subscriber.group_number or "",
         "", "", "", "", "", payer.filing_indicator),
        ("NM1", "IL", "1", subscriber.last_name, subscriber.first_name, "", "", "", "MI",
         subscriber.member_id),
    ]  # fmt: skip
    if patient is None:
        assert subscriber.address is not None  # checked
        assert subscriber.birth_date is not None
        segments.extend(_address(subscriber.address))
        segments.append(("DMG", "D8", _ymd(subscriber.birth_date), subscriber.sex or "U"))
    segments.append(("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id))
    return segments


def _patient(hl: int, patient: Patient) -> list[Segment]:
    return [
        ("HL", str(hl), str(hl - 1), "23", "0"),
        ("PAT", _PAT01[patient.relationship]),
        ("NM1", "QC", "1", patient.last_name, patient.first_name),
        *_address(patient.address),
        ("DMG", "D8", _ymd(patient.birth_date), patient.sex),
    ]


def _claim(claim: Claim) -> list[Segment]:
    segments: list[Segment] = [
        # CLM06 Y provider signature on file, CLM07 A assigned, CLM08 Y benefits assigned
        # (what makes the payer pay the platform), CLM09 Y release of information.
        ("CLM", claim.control_number, dollars(claim.charge_cents), "", "",
         (claim.place_of_service, "B", claim.frequency), "Y", "A", "Y", "Y"),
    ]  # fmt: skip
    if claim.prior_authorization:
        segments.append(("REF", "G1", claim.prior_authorization))
    if claim.frequency != "1":
        assert claim.payer_claim_number is not None  # checked
        segments.append(("REF", "F8", claim.payer_claim_number))
    first, *others = claim.diagnoses
    segments.append(("HI", ("ABK", first), *(("ABF", code) for code in others)))
    rendering = claim.rendering
    segments.append(
        ("NM1", "82", "1", rendering.last_name, rendering.first_name, "", "", "", "XX",
         rendering.npi)
    )  # fmt: skip
    segments.append(("PRV", "PE", "PXC", rendering.taxonomy))
    if claim.facility is not None:
        segments.append(("NM1", "77", "2", claim.facility.name))
        segments.extend(_address(claim.facility.address))
    for number, line in enumerate(claim.lines, start=1):
        segments.extend(_line(number, line))
    return segments


def _line(number: int, line: Line) -> Sequence[Segment]:
    return (
        ("LX", str(number)),
        ("SV1", ("HC", line.cpt, *line.modifiers), dollars(line.charge_cents), "UN",
         str(line.units), "", "", tuple(str(p) for p in line.pointers)),
        ("DTP", "472", "D8", _ymd(line.service_date)),
        ("REF", "6R", line.control_number),
    )  # fmt: skip
