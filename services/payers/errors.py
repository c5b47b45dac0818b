"""Refusals of the payers domain."""

from __future__ import annotations

from services.core.errors import Conflict, NotFound, Unprocessable


class PayerNotFound(NotFound):
    code = "payer_not_found"


class PayerIdTaken(Conflict):
    code = "x12_payer_id_taken"


class FeeScheduleNotFound(NotFound):
    code = "fee_schedule_not_found"


class FeeScheduleOverlap(Conflict):
    code = "fee_schedule_overlap"


class BadFeeSchedule(Unprocessable):
    code = "bad_fee_schedule"
