"""Refusals of the claims domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class ClaimNotFound(NotFound):
    code = "claim_not_found"


class ClaimNotFlagged(Conflict):
    code = "claim_not_flagged"


class ClaimExists(Conflict):
    code = "claim_exists"


class NoPlatformCharge(Unprocessable):
    code = "no_platform_charge"


class ChargeBelowAllowed(Unprocessable):
    code = "charge_below_allowed"


class ClaimNotReady(Conflict):
    """A claim already taken into a batch: it can no longer be rewritten in place."""

    code = "claim_submitted"


class ClaimStatusConflict(Conflict):
    """The claim's status does not allow this correction (the message says which does)."""

    code = "claim_status"


class PayerHoldsClaim(Conflict):
    """A resend (frequency 1) of a claim some payer accepted: that is a replacement's work."""

    code = "payer_holds_claim"


class ClaimVoided(Conflict):
    code = "claim_voided"


class NoPayerClaimNumber(Unprocessable):
    """A replacement or void needs the payer's claim number (REF*F8), from its 277CA."""

    code = "no_payer_claim_number"


class CorrectionRefused(Unprocessable):
    """A corrected claim that breaks a billing rule; the code names the rule."""

    code = "correction_refused"


class ClaimBatchNotFound(NotFound):
    code = "claim_batch_not_found"
