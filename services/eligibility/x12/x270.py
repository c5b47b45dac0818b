"""The 005010X279A1 270 eligibility request Hearth sends (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.core.x12 import ControlNumbers, Envelope, Segment, X12Error, write_interchange

VERSION = "005010X279A1"
Sex = Literal["F", "M", "U"]
Relationship = Literal["self", "spouse", "child", "other"]

# 270 loop 2100D INS02 (patient's relationship to the subscriber); the subscriber is "18" (self).
_INS02: dict[Relationship, str] = {"self": "18", "spouse": "01", "child": "19", "other": "34"}
_RELATIONSHIP: dict[str, Relationship] = {code: name for name, code in _INS02.items()}


def relationship_to_ins02(relationship: Relationship) -> str:
    """Hearth's relationship → 270/271 INS02 (self 18, spouse 01, child 19, other 34)."""
    return _INS02[relationship]


def relationship_from_ins02(code: str) -> Relationship:
    """270/271 INS02 → Hearth's relationship; any code the guide's 2100D list lacks is other."""
    return _RELATIONSHIP.get(code, "other")


@dataclass(frozen=True, slots=True)
class Person270:
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None
    member_id: str | None = None


@dataclass(frozen=True, slots=True)
class Payer270:
    x12_id: str  # the payer's id at the clearinghouse (NM109, qualifier PI)
    name: str


@dataclass(frozen=True, slots=True)
class Receiver270:
    """2100B: the rendering provider (type 1 NPI), or the platform organization (type 2)."""

    npi: str
    last_or_org_name: str
    first_name: str | None = None  # None: an organization

    @property
    def is_person(self) -> bool:
        return self.first_name is not None


@dataclass(frozen=True, slots=True)
class Request270:
    """One eligibility question about one patient.

    The patient is sent as the subscriber (2100C) when they are the subscriber or have a member
    id of their own; otherwise the subscriber goes in 2100C and the patient in 2000D/2100D.
    """

    payer: Payer270
    receiver: Receiver270
    patient: Person270
    trace: str  # TRN02, unique per request: the 271 must return it as TRN*2
    ein: str  # the platform's EIN (9 digits): TRN03 is "1" + EIN
    service_date: date  # DTP*291
    reference: str  # BHT03, the submitter's transaction reference
    relationship: Relationship = "self"
    subscriber: Person270 | None = None  # needed when the patient has no own member id
    include_30: bool = True  # also ask for service type 30 (fallback when MH says nothing)


def envelope_270(sender_id: str, receiver_id: str, usage: str = "P") -> Envelope:
    return Envelope(sender_id, receiver_id, "HS", VERSION, usage=usage)


def write_270(
    request: Request270, *, envelope: Envelope, control: ControlNumbers, now: datetime
) -> str:
    """The whole interchange (ISA…IEA) carrying one 270 transaction set."""
    _check(request)
    return write_interchange(
        [("270", _body(request, now))], envelope=envelope, control=control, now=now
    )


def _check(request: Request270) -> None:
    if not (request.ein.isdigit() and len(request.ein) == 9):
        raise X12Error("the EIN must be 9 digits")
    if not 1 <= len(request.trace) <= 50:
        raise X12Error("TRN02 (trace) must be 1 to 50 characters")
    if not (request.receiver.npi.isdigit() and len(request.receiver.npi) == 10):
        raise X12Error("the information receiver's NPI must be 10 digits")
    if _dependant(request) and (request.subscriber is None or not request.subscriber.member_id):
        raise X12Error("a patient without a member id needs the subscriber's member id")
    if not _dependant(request) and not request.patient.member_id:
        raise X12Error("the subscriber's member id is required")


def _dependant(request: Request270) -> bool:
    return request.relationship != "self" and not request.patient.member_id


def _person(entity: str, person: Person270, *, with_id: bool) -> list[Segment]:
    nm1: Segment = ("NM1", entity, "1", person.last_name, person.first_name)
    if with_id and person.member_id:
        nm1 = (*nm1, "", "", "", "MI", person.member_id)
    # DMG03 is situational: an unknown sex is sent as no sex rather than U, which some
    # receivers (linuxforhealth-x12's model among them) do not accept.
    sex = person.sex if person.sex in ("F", "M") else ""
    dmg: Segment = ("DMG", "D8", person.birth_date.strftime("%Y%m%d"), sex)
    return [nm1, dmg]


def _body(request: Request270, now: datetime) -> list[Segment]:
    receiver = request.receiver
    nm1_1p: Segment = (
        ("NM1", "1P", "1", receiver.last_or_org_name, receiver.first_name or "")
        if receiver.is_person
        else ("NM1", "1P", "2", receiver.last_or_org_name, "")
    )
    dependant = _dependant(request)
    trn: Segment = ("TRN", "1", request.trace, "1" + request.ein)
    questions: list[Segment] = [("DTP", "291", "D8", request.service_date.strftime("%Y%m%d"))]
    # One EQ with repeated service types (EQ01 repeats up to 99 in 5010) rather than one 2110
    # loop per type: both are legal, and linuxforhealth-x12 0.57 models only one 2110C/2110D.
    questions.append(("EQ", ["MH", "30"] if request.include_30 else ["MH"]))
    body: list[Segment] = [
        ("BHT", "0022", "13", request.reference, now.strftime("%Y%m%d"), now.strftime("%H%M")),
        ("HL", "1", "", "20", "1"),
        ("NM1", "PR", "2", request.payer.name, "", "", "", "", "PI", request.payer.x12_id),
        ("HL", "2", "1", "21", "1"),
        (*nm1_1p, "", "", "", "XX", receiver.npi),
        ("HL", "3", "2", "22", "1" if dependant else "0"),
    ]
    if not dependant:
        return [*body, trn, *_person("IL", request.patient, with_id=True), *questions]
    assert request.subscriber is not None  # _check
    return [
        *body,
        *_person("IL", request.subscriber, with_id=True),
        ("HL", "4", "3", "23", "0"),
        trn,
        *_person("03", request.patient, with_id=False),
        ("INS", "N", relationship_to_ins02(request.relationship)),
        *questions,
    ]
