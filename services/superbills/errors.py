"""Refusals of the superbills domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class SuperbillSessionNotFound(NotFound):
    code = "therapy_session_not_found"


class NoSuperbill(Conflict):
    """The session was billed to the insurer (a claim), is not completed, or is held."""

    code = "no_superbill"


class BadMonth(Unprocessable):
    code = "bad_month"
