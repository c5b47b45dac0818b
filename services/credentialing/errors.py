"""Refusals of the credentialing domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class CredentialingNotFound(NotFound):
    code = "credentialing_not_found"


class OpenRecordExists(Conflict):
    code = "credentialing_open"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class InvalidDates(Unprocessable):
    code = "invalid_dates"


class UnknownReference(Unprocessable):
    code = "unknown_reference"
