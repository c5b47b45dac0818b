"""Refusals of the claims domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class ClaimNotFound(NotFound):
    code = "claim_not_found"


class ClaimExists(Conflict):
    code = "claim_exists"


class NoPlatformCharge(Unprocessable):
    code = "no_platform_charge"


class ChargeBelowAllowed(Unprocessable):
    code = "charge_below_allowed"


class ClaimBatchNotFound(NotFound):
    code = "claim_batch_not_found"
