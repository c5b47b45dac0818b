"""Refusals of the Good Faith Estimates domain."""

from __future__ import annotations

from services.core.errors import NotFound, Unprocessable


class EstimateNotFound(NotFound):
    code = "good_faith_estimate_not_found"


class BadEstimateRequest(Unprocessable):
    code = "bad_good_faith_request"


class NoSelfPayRate(Unprocessable):
    code = "no_self_pay_rate"
