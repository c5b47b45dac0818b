"""SQL for the ops daily digest's remittance figures: one day's 835s and the ops queue."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.ops import EraDayOut, RemittanceQueuesOut
from services.core.db import one
from services.remittance.queries.corrections import count_awaiting_correction


async def get_era_day(conn: asyncpg.Connection, start: datetime, end: datetime) -> EraDayOut:
    """The files received in [start, end), their payments and claims, summed."""
    row = await conn.fetchrow(
        """
        WITH f AS (SELECT id FROM remittance_files WHERE received_at >= $1 AND received_at < $2),
        p AS (SELECT id, provider_adjustment_cents FROM remittance_payments
              WHERE file_id IN (SELECT id FROM f)),
        c AS (SELECT status_code, outcome, charge_cents, paid_cents, patient_adjustments_cents,
                     loss_cents
              FROM remitted_claims WHERE payment_id IN (SELECT id FROM p))
        SELECT (SELECT count(*) FROM f) AS files,
               (SELECT count(*) FROM p) AS payments,
               (SELECT coalesce(sum(provider_adjustment_cents), 0)::bigint FROM p)
                   AS provider_adjustment_cents,
               count(*) AS claims,
               coalesce(sum(paid_cents), 0)::bigint AS paid_cents,
               coalesce(sum(patient_adjustments_cents), 0)::bigint AS patient_responsibility_cents,
               count(*) FILTER (WHERE outcome = 'denied') AS denied_claims,
               coalesce(sum(charge_cents) FILTER (WHERE outcome = 'denied'), 0)::bigint
                   AS denied_charge_cents,
               coalesce(sum(loss_cents), 0)::bigint AS loss_cents,
               count(*) FILTER (WHERE status_code = '22') AS reversals,
               coalesce(-sum(paid_cents) FILTER (WHERE status_code = '22'), 0)::bigint
                   AS reversed_cents
        FROM c
        """,
        start,
        end,
    )
    return one(row, EraDayOut)


async def get_queues(
    conn: asyncpg.Connection, now: datetime, correction_days: int
) -> RemittanceQueuesOut:
    """Every remittance queue ops work from, counted as it stands `now`."""
    row = await conn.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM remitted_claims WHERE needs_ops) AS needs_ops,
            (SELECT count(*) FROM remitted_claims WHERE needs_ops AND outcome = 'unmatched')
                AS unmatched,
            (SELECT count(*) FROM client_true_ups WHERE status = 'ops_review')
                AS true_ups_in_review,
            (SELECT count(*) FROM remittance_fetch_refusals WHERE resolved_at IS NULL)
                AS refused_files
        """
    )
    assert row is not None
    awaiting = await count_awaiting_correction(conn, now, correction_days)
    return RemittanceQueuesOut(**dict(row), awaiting_correction=awaiting)
