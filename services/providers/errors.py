"""Refusals of the providers domain."""

from __future__ import annotations

from services.core.errors import Conflict, Forbidden, NotFound, Unprocessable


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class NpiTaken(Conflict):
    code = "npi_taken"


class LicenceTaken(Conflict):
    code = "licence_taken"


class InvalidValue(Unprocessable):
    code = "invalid_value"


class OpsOnlyField(Forbidden):
    code = "ops_only_field"
