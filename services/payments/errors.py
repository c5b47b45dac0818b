"""Refusals of the payments domain."""

from __future__ import annotations

from services.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)


class PaymentMethodNotFound(NotFound):
    code = "payment_method_not_found"


class StripeUnavailable(ServiceUnavailable):
    code = "stripe_unavailable"


class BadSignature(DomainError):
    code = "bad_signature"


class DisputeNotFound(NotFound):
    code = "dispute_not_found"


class FailedRefundNotFound(NotFound):
    code = "failed_refund_not_found"


class PaymentExceptionNotFound(NotFound):
    code = "payment_exception_not_found"


class BadMonth(Unprocessable):
    code = "bad_month"


class ChargeNotFound(NotFound):
    code = "charge_not_found"


class ChargeNotPayable(Conflict):
    code = "charge_not_payable"


class StripeRefused(DomainError):
    """Stripe answered and refused the request (a 4xx other than a card decline): not an
    outage, and the same request would be refused again."""

    status, code, title = 502, "stripe_refused", "Stripe refused the request"


class StripeCustomerLost(Conflict):
    code = "stripe_customer_lost"
