"""payouts: a payout cancelled by ops (its status, reason and time)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def update_cancelled(
    conn: asyncpg.Connection, payout_id: uuid.UUID, reason: str, now: datetime
) -> bool:
    """The payout cancelled, if it is still failed or held with no transfer known (the
    caller holds its row lock); False when it is not."""
    done = await conn.fetchval(
        """
        UPDATE payouts SET status = 'cancelled', hold_reason = NULL, lease_until = NULL,
            cancel_reason = $2, cancelled_at = $3, updated_at = $3
        WHERE id = $1 AND status IN ('failed', 'held') AND stripe_transfer_id IS NULL
        RETURNING true
        """,
        payout_id, reason, now,
    )  # fmt: skip
    return bool(done)
