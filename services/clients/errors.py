"""Refusals of the clients domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class ClientNotFound(NotFound):
    code = "client_not_found"


class PolicyNotFound(NotFound):
    code = "policy_not_found"


class BadDate(Unprocessable):
    code = "bad_date"


class UnknownPayer(Unprocessable):
    code = "unknown_payer"


class BadSubscriber(Unprocessable):
    code = "bad_subscriber"


class PolicyOverlap(Conflict):
    code = "policy_overlap"
