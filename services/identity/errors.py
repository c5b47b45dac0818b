"""Refusals of the identity domain."""

from __future__ import annotations

from services.core.errors import Conflict, Unauthorized


class EmailTaken(Conflict):
    code = "email_taken"


class RefreshReuse(Unauthorized):
    code = "refresh_token_reused"
    keeps_writes = True


class CannotDisableSelf(Conflict):
    code = "cannot_disable_self"


class BadVerification(Unauthorized):
    code = "bad_verification_token"
