"""Refusals of the prior authorizations domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class AuthorizationNotFound(NotFound):
    code = "prior_authorization_not_found"


class BadAuthorization(Unprocessable):
    code = "bad_prior_authorization"


class NumberTaken(Conflict):
    code = "prior_authorization_number_taken"
