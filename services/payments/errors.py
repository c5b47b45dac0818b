"""Refusals of the payments domain."""

from __future__ import annotations

from services.core.errors import DomainError, NotFound, ServiceUnavailable, Unprocessable


class PaymentMethodNotFound(NotFound):
    code = "payment_method_not_found"


class StripeUnavailable(ServiceUnavailable):
    code = "stripe_unavailable"


class BadSignature(DomainError):
    code = "bad_signature"


class BadMonth(Unprocessable):
    code = "bad_month"
