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
