"""Refusals of the therapy sessions domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class SessionNotFound(NotFound):
    code = "therapy_session_not_found"


class BadBooking(Unprocessable):
    code = "bad_booking"


class WrongStatus(Conflict):
    code = "therapy_session_status"


class CompletionRefused(Unprocessable):
    """A completion that breaks a rule; the code names the rule (services/.../rules.py)."""

    code = "completion_refused"


class PolicyInactive(CompletionRefused):
    code = "policy_inactive"


class CoverageNotConfirmed(Conflict):
    """Billing a held session while the latest benefit check still cannot say it is covered."""

    code = "coverage_not_confirmed"


class NotOnHold(Conflict):
    code = "therapy_session_not_on_hold"


class ReasonRequired(Unprocessable):
    code = "reason_required"
