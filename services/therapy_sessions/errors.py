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


class EditWindowClosed(Conflict):
    """DESIGN.md "Edit window and submission timing": edits only so long after confirming."""

    code = "edit_window_closed"


class CoverageChanged(Conflict):
    """The session's coverage is not what it was at completion (a claim would appear or go)."""

    code = "coverage_changed"


class NothingToEdit(Unprocessable):
    code = "nothing_to_edit"


class CoverageNotConfirmed(Conflict):
    """Billing a held session while the latest benefit check still cannot say it is covered."""

    code = "coverage_not_confirmed"


class NotOnHold(Conflict):
    code = "therapy_session_not_on_hold"


class ReasonRequired(Unprocessable):
    code = "reason_required"
