"""Providers: profiles, licences, service locations, self-pay rates."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import Address, Base, Email, Name, Out, UsState, text, x12_text

# Formats only; the NPI check digit and the taxonomy rules are checked by the service (422).
Npi = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9]{10}$")]
TaxonomyCode = Annotated[str, Meta(min_length=10, max_length=10, pattern=r"^[0-9A-Za-z]{9}[Xx]$")]
# EIN NN-NNNNNNN, SSN NNN-NN-NNNN or 9 bare digits; stored encrypted, digits only.
TaxId = Annotated[str, Meta(max_length=11, pattern=r"^[0-9-]{9,11}$")]
LicenceNumber = Annotated[str, text(50)]
LicenceType = Literal["LCSW", "LICSW", "LMFT", "LPC", "LPCC", "LCPC", "LMHC", "LP", "PsyD", "PhD"]
PlaceOfService = Literal["02", "10", "11"]
RateCents = Annotated[int, Meta(ge=1, le=100_000_000)]


class LicenceIn(Base):
    state: UsState
    licence_type: LicenceType
    number: LicenceNumber
    expires_on: date


# A claim names its service facility (2310C NM1*77), so a location's name is X12-safe.
LocationName = Annotated[str, x12_text(200)]


class LocationIn(Base, kw_only=True):
    name: LocationName
    place_of_service: PlaceOfService
    address: Address | None = None


class LocationPatchIn(Base):
    name: LocationName | UnsetType = UNSET
    place_of_service: PlaceOfService | UnsetType = UNSET
    address: Address | UnsetType | None = UNSET


class ProviderIn(Base, kw_only=True):
    email: Email
    first_name: Name
    last_name: Name
    npi: Npi
    taxonomy_code: TaxonomyCode
    tax_id: TaxId
    licences: Annotated[list[LicenceIn], Meta(max_length=60)] = []
    locations: Annotated[list[LocationIn], Meta(max_length=50)] = []


class ProviderPatchIn(Base):
    """Names and taxonomy: ops or the provider; NPI and tax id: ops only."""

    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    taxonomy_code: TaxonomyCode | UnsetType = UNSET
    npi: Npi | UnsetType = UNSET
    tax_id: TaxId | UnsetType = UNSET


class SelfPayRateIn(Base):
    amount_cents: RateCents


class ProviderOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    npi: str
    taxonomy_code: str
    tax_id_last4: str
    created_at: datetime
    updated_at: datetime


class LicenceOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    state: str
    licence_type: LicenceType
    number: str
    expires_on: date
    created_at: datetime


class AddressOut(Out, kw_only=True):
    line1: str
    line2: str | None = None
    city: str
    state: str
    zip: str


class LocationOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    name: str
    place_of_service: PlaceOfService
    address: AddressOut | None
    created_at: datetime
    updated_at: datetime


class LocationRow(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    name: str
    place_of_service: PlaceOfService
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    zip: str | None
    created_at: datetime
    updated_at: datetime


class SelfPayRateOut(Out):
    id: uuid.UUID
    provider_id: uuid.UUID
    cpt_code: str
    amount_cents: int
    created_at: datetime
    updated_at: datetime


class ProviderOnboardedOut(Out):
    """The new profile and the one-time invitation token ops hand to the therapist."""

    provider: ProviderOut
    licences: list[LicenceOut]
    locations: list[LocationOut]
    invite_token: str
    invite_expires_at: datetime


class TaxIdRow(Out):
    id: uuid.UUID
    tax_id_encrypted: bytes
    tax_id_key_id: str
    tax_id_scheme: int


class SealedTaxId(Struct, frozen=True, kw_only=True):
    """A tax id ready to store: nonce || ciphertext, its key id and scheme, the last four."""

    encrypted: bytes
    key_id: str
    scheme: int
    last4: str
