"""SQL of the reversals waiting for their correction (DESIGN.md "Reversal": a reversal with no
correction after a configured time goes to ops).

Foreign tables read: claims (the claim's number, provider and payer) and payers (its name).

A claim's remittances alternate: an adjudication stands until a reversal negates it, and a
second adjudication while one stands goes to ops instead of posting. So a claim with no
standing adjudication whose latest reversal (by posting order) is old enough is waiting; its
earlier reversals were each followed by a correction, since reversed in turn. A claim whose
void the payer accepted waits for nothing: its reversal is final.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.remittance_ops import AwaitingCorrectionOut
from services.core.pagination import After, fetch_page

# Settings.reversal_correction_days' default, for callers without the settings at hand.
DEFAULT_CORRECTION_DAYS = 30

# Each claim's latest reversal, when the claim has no standing adjudication, if it was posted
# at least $2 days before $1 (now). Payments of one file share their posting instant, so the
# file's order (ST position, CLP ordinal) breaks ties.
_WAITING = """
    SELECT * FROM (
        SELECT DISTINCT ON (r.claim_id)
               r.id, p.posted_at AS created_at, r.claim_id, c.claim_number, c.provider_id,
               c.payer_id, py.name AS payer_name, r.reversal_of, -r.paid_cents AS reversed_cents,
               r.payer_claim_number, p.trace_number, p.payment_date,
               extract(day FROM $1::timestamptz - p.posted_at)::int AS days_waiting
        FROM remitted_claims r
        JOIN remittance_payments p ON p.id = r.payment_id
        JOIN claims c ON c.id = r.claim_id
        JOIN payers py ON py.id = c.payer_id
        WHERE r.outcome = 'reversed' AND r.reversal_of IS NOT NULL
          AND c.status <> 'voided'  -- we voided it: its reversal is final, nothing will follow
          AND NOT EXISTS (
              SELECT 1 FROM remitted_claims s
              WHERE s.claim_id = r.claim_id AND s.reversed_by IS NULL AND s.reversal_of IS NULL
                AND s.outcome IN ('paid', 'partially_paid', 'denied'))
        ORDER BY r.claim_id, p.posted_at DESC, p.position DESC, r.ordinal DESC
    ) w
    WHERE created_at <= $1::timestamptz - make_interval(days => $2::int)
"""
_COUNT = "SELECT count(*) FROM (" + _WAITING + ") n"  # noqa: S608 - two constants


async def list_awaiting_correction(
    conn: asyncpg.Connection, now: datetime, days: int, after: After | None, limit: int
) -> list[AwaitingCorrectionOut]:
    """Reversals older than `days` with no correction since, oldest first."""
    return await fetch_page(
        conn, AwaitingCorrectionOut, _WAITING, now, days, after=after, limit=limit
    )


async def count_awaiting_correction(
    conn: asyncpg.Connection, now: datetime, days: int = DEFAULT_CORRECTION_DAYS
) -> int:
    """How many claims wait for a correction more than `days` after their reversal (the ops
    digest counts them; pass settings.reversal_correction_days where the settings are known)."""
    found: int = await conn.fetchval(_COUNT, now, days)
    return found
