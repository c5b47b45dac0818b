"""SQL for the ops daily digest's remittance figures: one day's 835s and the ops queue."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.ops import EraDayOut, RemittanceQueuesOut
from services.core.db import one


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


async def get_queues(conn: asyncpg.Connection) -> RemittanceQueuesOut:
    row = await conn.fetchrow(
        """
        SELECT count(*) AS needs_ops, count(*) FILTER (WHERE outcome = 'unmatched') AS unmatched
        FROM remitted_claims WHERE needs_ops
        """
    )
    return one(row, RemittanceQueuesOut)
