"""Superbills: what a client who paid the provider's self-pay rate sends their insurer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

import msgspec

from schemas.common import Base, Out

# Why the session has no claim: no policy, or a policy under which it was billed out of network.
SuperbillReason = Literal["self_pay", "out_of_network"]


class SuperbillAddressOut(Out):
    line1: str
    line2: str | None
    city: str
    state: str
    zip: str


class SuperbillBilledByOut(Out):
    """The platform, which collected the payments (merchant of record)."""

    name: str
    npi: str
    address: SuperbillAddressOut


class SuperbillProviderOut(Out):
    """The rendering provider. The JSON shows the tax id's last four digits only; the PDF,
    the document sent to the insurer, prints it whole."""

    id: uuid.UUID
    name: str
    npi: str
    taxonomy_code: str
    tax_id_last4: str
    address: SuperbillAddressOut | None  # the office's; None: no address on file


class SuperbillClientOut(Out):
    id: uuid.UUID
    name: str
    date_of_birth: date
    address: SuperbillAddressOut
    payer_name: str | None  # the plan the sessions were out of network with; None: self-pay
    member_id: str | None


class SuperbillLineOut(Out):
    line_number: int
    cpt_code: str
    modifiers: list[str]
    diagnosis_pointers: list[int]
    units: int
    charge_cents: int


class SuperbillSessionOut(Out):
    session_id: uuid.UUID
    provider_id: uuid.UUID
    reason: SuperbillReason
    date_of_service: date  # in the platform's statement time zone
    place_of_service: str
    diagnosis_codes: list[str]  # ICD-10-CM as on a claim, without the dot
    lines: list[SuperbillLineOut]
    charged_cents: int  # what the session was billed at (the ledger), Σ its lines
    paid_cents: int  # what the client's card paid for it, less refunds


class SuperbillOut(Out):
    client: SuperbillClientOut
    # "session" (one session's superbill) or the month, YYYY-MM.
    period: str
    time_zone: str
    period_start: date
    period_end: date  # inclusive
    issued_at: datetime
    billed_by: SuperbillBilledByOut
    providers: list[SuperbillProviderOut]
    sessions: list[SuperbillSessionOut]
    total_charged_cents: int
    total_paid_cents: int
    statement: str


class SuperbillPreferencesIn(Base, kw_only=True):
    monthly_email: bool


class SuperbillPreferencesOut(Out):
    client_id: uuid.UUID
    monthly_email: bool
    updated_at: datetime | None  # None: never chosen (not opted in)


class SuperbillEmailJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `send_superbill_email`: ids and the month only (no PHI)."""

    job: ClassVar[str] = "send_superbill_email"
    client_id: uuid.UUID
    month: str
