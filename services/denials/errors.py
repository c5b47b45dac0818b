"""Refusals of the denial work queue and appeals."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class DenialNotFound(NotFound):
    code = "denial_not_found"


class DenialResolved(Conflict):
    """A second action on a denial: the detail names the first."""

    code = "denial_resolved"


class DenialReversed(Conflict):
    code = "denial_reversed"


class AppealNotFound(NotFound):
    code = "appeal_not_found"


class AppealTransition(Conflict):
    code = "appeal_status_transition"


class BadAppealDeadline(Unprocessable):
    code = "bad_appeal_deadline"


class CursorNeedsReason(Unprocessable):
    code = "cursor_needs_reason"
