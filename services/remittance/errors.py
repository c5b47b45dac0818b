"""Refusals of the remittance domain."""

from __future__ import annotations

from services.core.errors import Conflict, DomainError, NotFound, Unprocessable


class RecoupmentPolicyNotFound(NotFound):
    code = "recoupment_policy_not_found"


class BadRecoupmentPolicy(Unprocessable):
    code = "bad_recoupment_policy"


class DefaultPolicyKept(Conflict):
    code = "recoupment_policy_is_default"


class PolicyChangedMeanwhile(Conflict):
    code = "recoupment_policy_changed_meanwhile"


class Refused835(Unprocessable):
    """The file is not a valid 835: nothing in it was posted."""

    code = "invalid_835"


class RemittanceNotFound(NotFound):
    code = "remittance_not_found"


class NotAn835Body(DomainError):
    """A body sent as another media type (JSON, a form): malformed for this operation."""

    code = "unsupported_media_type"


class RefusalNotFound(NotFound):
    code = "remittance_refusal_not_found"


class RefusalResolved(Conflict):
    """Ops resolve a refused file once; its resolution stands."""

    code = "remittance_refusal_resolved"


class TrueUpNotFound(NotFound):
    code = "true_up_not_found"


class TrueUpNotInReview(Conflict):
    """Ops decide a true-up only while it waits in ops_review."""

    code = "true_up_not_in_review"


class BadAccuracyWindow(DomainError):
    status, code, title = 400, "bad_accuracy_window", "Invalid request"
