"""Identity: login, tokens, invitations, password changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from schemas.common import Base, Email, Out, Password, Token, text

# A login or current password is checked as given; the strength rules apply when one is set.
AnyPassword = Annotated[str, text(256)]


class LoginIn(Base):
    email: Email
    password: AnyPassword


class RefreshIn(Base):
    refresh_token: Token


class AcceptInviteIn(Base):
    token: Token
    password: Password


class VerifyEmailIn(Base):
    token: Token
    # The password chosen at signup: the mailed token alone would let whoever reads the mailbox
    # activate an account whose password a stranger who signed up with that address chose.
    password: AnyPassword


class ChangePasswordIn(Base):
    current_password: AnyPassword
    new_password: Password


class TokenPair(Out, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class MeOut(Out):
    user_id: uuid.UUID
    email: str
    role: Literal["provider", "client", "ops"]
    provider_id: uuid.UUID | None
    client_id: uuid.UUID | None


class UserRow(Out):
    id: uuid.UUID
    email: str
    password_hash: str | None
    role: Literal["provider", "client", "ops"]
    created_at: datetime
    disabled_at: datetime | None
    token_version: int = 0
    provider_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


class AccessStateRow(Out):
    role: Literal["provider", "client", "ops"]
    disabled: bool
    token_version: int
    provider_id: uuid.UUID | None
    client_id: uuid.UUID | None
    session_revoked: bool


class UserStatusOut(Out):
    user_id: uuid.UUID
    disabled_at: datetime | None


class InviteOut(Out):
    user_id: uuid.UUID
    invite_token: str
    expires_at: datetime


class RefreshTokenRow(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class InviteRow(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    accepted_at: datetime | None
