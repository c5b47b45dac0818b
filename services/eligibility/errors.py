"""Refusals of the eligibility domain (an unknown policy is the clients domain's PolicyNotFound)."""

from __future__ import annotations

from services.core.errors import NotFound, TooManyRequests, Unprocessable


class BenefitCheckNotFound(NotFound):
    code = "benefit_check_not_found"


class BadCheck(Unprocessable):
    code = "bad_benefit_check"


class ReceiverNotFound(NotFound):
    code = "provider_not_found"


class NotX12Safe(Unprocessable):
    code = "x12_unsafe_text"


class RefreshTooSoon(TooManyRequests):
    code = "benefit_refresh_too_soon"
