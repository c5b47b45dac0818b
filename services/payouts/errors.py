"""Refusals of the payouts domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable


class PayoutAccountNotFound(NotFound):
    code = "payout_account_not_found"


class PayoutHoldNotFound(NotFound):
    code = "payout_hold_not_found"


class HoldAlreadyReleased(Conflict):
    code = "payout_hold_released"


class BadSchedule(Unprocessable):
    code = "bad_payout_schedule"


class StripeUnavailable(ServiceUnavailable):
    code = "stripe_unavailable"


class PayoutNotFound(NotFound):
    code = "payout_not_found"


class PayoutNotRetryable(Conflict):
    code = "payout_not_retryable"


class PayoutNotCancellable(Conflict):
    code = "payout_not_cancellable"


class BadPayoutRun(Unprocessable):
    code = "bad_payout_run"
