"""What one 837P (005010X222A1) interchange needs, independent of our tables.

Value objects the claims service builds from its rows and services/claims/x837.py writes.
msgspec checks the annotated bounds on decode and convert only; the writer checks what the
payers enforce (CLM02 = ΣSV102, frequency, CLM01, diagnoses, pointers, NPIs, taxonomy, ZIPs).
Money is integer cents. Frozen, so hashable: the writer groups claims by subscriber and patient.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.common import Cents, UsState, x12_text
from schemas.payers import FilingIndicator

Frequency = Literal["1", "7", "8"]  # CLM05-3: original, replacement, void
Sex = Literal["F", "M", "U"]
# The patient's relationship to the subscriber when the patient is a dependant (2000C PAT01).
DependantRelationship = Literal["spouse", "child", "other"]
Text60 = Annotated[str, x12_text(60)]
Id = Annotated[str, x12_text(50)]


class PostalAddress(msgspec.Struct, frozen=True, kw_only=True):
    line1: Annotated[str, x12_text(55)]
    line2: Annotated[str, x12_text(55, min_length=0)] | None = None
    city: Annotated[str, x12_text(30)]
    state: UsState
    zip: Annotated[str, Meta(pattern=r"^[0-9]{5}([0-9]{4})?$")]


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    name: Text60
    phone: Annotated[str, Meta(pattern=r"^[0-9]{10}$")]


class Submitter(msgspec.Struct, frozen=True, kw_only=True):
    """1000A: who sends the file (the platform), with whom to call about it."""

    name: Text60
    id: Annotated[str, x12_text(80)]  # NM109, qualifier 46 (ETIN)
    contact: Contact


class Receiver(msgspec.Struct, frozen=True, kw_only=True):
    """1000B: the clearinghouse the file goes to."""

    name: Text60
    id: Annotated[str, x12_text(80)]  # NM109, qualifier 46 (ETIN)


class BillingProvider(msgspec.Struct, frozen=True, kw_only=True):
    """The platform: organization NPI, EIN, a street address with a 9-digit ZIP, taxonomy."""

    name: Text60
    npi: str
    ein: Annotated[str, Meta(pattern=r"^[0-9]{9}$")]
    address: PostalAddress
    taxonomy: str
    contact: Contact


class Payer(msgspec.Struct, frozen=True, kw_only=True):
    name: Text60
    payer_id: Id  # 2010BB NM109, qualifier PI
    filing_indicator: FilingIndicator  # SBR09


class Subscriber(msgspec.Struct, frozen=True, kw_only=True):
    """2010BA. Birth date, sex and address are required when the subscriber is the patient."""

    member_id: Id
    group_number: Id | None = None
    first_name: Text60
    last_name: Text60
    birth_date: date | None = None
    sex: Sex | None = None
    address: PostalAddress | None = None


class Patient(msgspec.Struct, frozen=True, kw_only=True):
    """A dependant without an own member id (2000C); one with an own id is a subscriber."""

    relationship: DependantRelationship
    first_name: Text60
    last_name: Text60
    birth_date: date
    sex: Sex
    address: PostalAddress


class RenderingProvider(msgspec.Struct, frozen=True, kw_only=True):
    """The therapist (2310B): individual NPI and own taxonomy."""

    npi: str
    first_name: Text60
    last_name: Text60
    taxonomy: str


class ServiceFacility(msgspec.Struct, frozen=True, kw_only=True):
    """Where the service took place (2310C), when it differs from the billing address."""

    name: Text60
    address: PostalAddress


class Line(msgspec.Struct, frozen=True, kw_only=True):
    cpt: Annotated[str, Meta(pattern=r"^[0-9]{4}[0-9A-Z]$")]
    modifiers: tuple[str, ...] = ()  # up to 4, two characters each
    charge_cents: Cents
    units: Annotated[int, Meta(ge=1, le=99)] = 1
    pointers: tuple[int, ...]  # 1 to 4 positions in the claim's diagnoses, 1-based
    service_date: date
    control_number: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,30}$")]  # REF*6R


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    control_number: str  # CLM01, [A-Z0-9]{1,17}, unique for each version sent
    charge_cents: Cents  # CLM02, must be the sum of the lines' charges
    place_of_service: Annotated[str, Meta(pattern=r"^[0-9]{2}$")]
    frequency: Frequency = "1"
    payer_claim_number: Id | None = None  # REF*F8, required for frequency 7 and 8
    prior_authorization: Id | None = None  # REF*G1
    diagnoses: tuple[str, ...]  # ICD-10-CM without the dot; the first is the principal
    payer: Payer
    subscriber: Subscriber
    patient: Patient | None = None
    rendering: RenderingProvider
    facility: ServiceFacility | None = None
    lines: tuple[Line, ...]


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """One interchange's content: every claim for one payer, under one billing provider."""

    submitter: Submitter
    receiver: Receiver
    billing: BillingProvider
    claims: tuple[Claim, ...]
