"""How close the client's estimated share came to the 835's patient responsibility, for ops.

Over the standing first adjudications of claims (paid, partially paid, denied; neither a
reversal nor reversed: each claim counts once, by the adjudication that stands) whose 835
payment date is in the window. Figures are aggregates per payer: no record is shown.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import asyncpg

from schemas.true_ups import AccuracyFigures, EstimateAccuracyOut, PayerAccuracy
from services.core import clock
from services.remittance.errors import BadAccuracyWindow
from services.remittance.queries import true_ups as q

DEFAULT_DAYS = 90  # the window ending today, both ends included
MAX_SPAN_DAYS = 366  # a year, both ends included (a leap year's too)
_CENT = Decimal("0.01")


def window(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The window asked for, its defaults filled in; 400 naming the field it refuses."""
    end = date_to or clock.today()
    start = date_from or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadAccuracyWindow("from is after to", field="from")
    if (end - start).days + 1 > MAX_SPAN_DAYS:
        raise BadAccuracyWindow(f"the window spans more than {MAX_SPAN_DAYS} days", field="to")
    return start, end


def _ratio(numerator: int, denominator: int, scale: int) -> Decimal | None:
    if denominator == 0:
        return None
    value = Decimal(numerator * scale) / Decimal(denominator)
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _figures(claims: int, exact: int, absolute: int, error: int) -> AccuracyFigures:
    return AccuracyFigures(
        claims=claims,
        exact=exact,
        exact_percent=_ratio(exact, claims, 100),
        mean_absolute_error_cents=_ratio(absolute, claims, 1),
        error_sum_cents=error,
    )


async def get_estimate_accuracy(
    conn: asyncpg.Connection, date_from: date | None, date_to: date | None
) -> EstimateAccuracyOut:
    """Claims counted, exact to the cent, mean absolute error and Σ error: overall, per payer."""
    start, end = window(date_from, date_to)
    rows = await q.list_payer_errors(conn, start, end)
    payers = [
        PayerAccuracy(
            payer_id=r.payer_id,
            payer_name=r.payer_name,
            figures=_figures(r.claims, r.exact, r.absolute_cents, r.error_cents),
        )
        for r in rows
    ]
    overall = _figures(
        sum(r.claims for r in rows),
        sum(r.exact for r in rows),
        sum(r.absolute_cents for r in rows),
        sum(r.error_cents for r in rows),
    )
    return EstimateAccuracyOut(date_from=start, date_to=end, overall=overall, payers=payers)
