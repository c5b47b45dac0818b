"""Clients: signup, profiles and insurance policies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, UnsetType

from schemas.common import X12_ID, Address, Base, Email, Name, Out, Password, Phone, text

Sex = Literal["F", "M", "U"]
Priority = Literal["primary", "secondary"]
Relationship = Literal["self", "spouse", "child", "other"]
AccountEmailKind = Literal["verify_email", "signup_attempt"]


class AccountEmailJob(msgspec.Struct, frozen=True, kw_only=True):
    """The outbox payload of `send_account_email`: the user's id only (no address or token)."""

    job: ClassVar[str] = "send_account_email"
    user_id: uuid.UUID
    kind: AccountEmailKind


# NM109 of a 270 and of a claim: `*` is the element separator Hearth writes with, so it cannot
# be part of an id (the X12 writers refuse it; refused here with the field named instead).
MemberId = Annotated[str, text(80, pattern=X12_ID)]
GroupNumber = Annotated[str, text(50, pattern=X12_ID)]


class ClientCreateIn(Base, kw_only=True):
    """Ops create a client without a password; the client accepts an invitation."""

    email: Email
    first_name: Name
    last_name: Name
    date_of_birth: date
    sex: Sex
    address: Address
    phone: Phone | None = None


class SignupIn(ClientCreateIn, kw_only=True):
    """A client signs themself up."""

    password: Password


class ClientPatchIn(Base, kw_only=True):
    """Only the fields given change; `phone: null` clears the phone."""

    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    date_of_birth: date | UnsetType = UNSET
    sex: Sex | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    phone: Phone | UnsetType | None = UNSET


class AddressOut(Out):
    line1: str
    line2: str | None
    city: str
    state: str
    zip: str


class ClientOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: Sex
    address: AddressOut
    phone: str | None
    created_at: datetime
    updated_at: datetime


class ClientColumns(Out):
    """The profile columns a client or ops may write."""

    first_name: str
    last_name: str
    date_of_birth: date
    sex: Sex
    address_line1: str
    address_line2: str | None
    city: str
    state: str
    zip: str
    phone: str | None


class ClientRow(ClientColumns, kw_only=True):
    """A clients row as stored (flat address)."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    created_at: datetime
    updated_at: datetime


class SignupAcceptedOut(Out):
    """The same answer whether or not the address was registered: the rest goes by email."""

    status: Literal["check_your_email"] = "check_your_email"
    detail: str = (
        "If this address can be used for a new account, we sent it a link to finish signing up."
        " Check your email."
    )


class ClientInvitedOut(Out):
    client: ClientOut
    invite_token: str
    invite_expires_at: datetime


class SubscriberIn(Base, kw_only=True):
    """The policy holder, when the client is not."""

    first_name: Name
    last_name: Name
    date_of_birth: date
    sex: Sex


class SubscriberOut(Out):
    first_name: str
    last_name: str
    date_of_birth: date
    sex: Sex


class PolicyIn(Base, kw_only=True):
    payer_id: uuid.UUID
    member_id: MemberId
    group_number: GroupNumber | None = None
    priority: Priority
    relationship: Relationship
    subscriber: SubscriberIn | None = None
    patient_member_id: MemberId | None = None
    effective_from: date
    effective_to: date | None = None


class PolicyPatchIn(Base, kw_only=True):
    """Only the fields given change; the end date changes through /end."""

    payer_id: uuid.UUID | UnsetType = UNSET
    member_id: MemberId | UnsetType = UNSET
    group_number: GroupNumber | UnsetType | None = UNSET
    priority: Priority | UnsetType = UNSET
    relationship: Relationship | UnsetType = UNSET
    subscriber: SubscriberIn | UnsetType | None = UNSET
    patient_member_id: MemberId | UnsetType | None = UNSET
    effective_from: date | UnsetType = UNSET


class PolicyEndIn(Base):
    effective_to: date


class PolicyOut(Out):
    id: uuid.UUID
    client_id: uuid.UUID
    payer_id: uuid.UUID
    priority: Priority
    member_id: str
    group_number: str | None
    relationship: Relationship
    subscriber: SubscriberOut | None
    patient_member_id: str | None
    effective_from: date
    effective_to: date | None
    created_at: datetime
    updated_at: datetime


class PolicyRow(Out):
    id: uuid.UUID
    client_id: uuid.UUID
    payer_id: uuid.UUID
    priority: Priority
    member_id: str
    group_number: str | None
    relationship: Relationship
    subscriber_first_name: str | None
    subscriber_last_name: str | None
    subscriber_date_of_birth: date | None
    subscriber_sex: Sex | None
    patient_member_id: str | None
    effective_from: date
    effective_to: date | None
    created_at: datetime
    updated_at: datetime

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


def unset_to_dict(patch: msgspec.Struct) -> dict[str, object]:
    """The fields a PATCH body actually gave."""
    return {f: getattr(patch, f) for f in patch.__struct_fields__ if getattr(patch, f) is not UNSET}
