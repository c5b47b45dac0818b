"""A Stripe customer Stripe no longer knows (resource_missing on `customer`): forgotten, its
cards with it, so the next card setup makes a new customer under customer-{client}-a{n+1}."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def update_customer_lost(
    conn: asyncpg.Connection, client_id: uuid.UUID, customer: str, now: datetime
) -> bool:
    """The client's customer forgotten (only if it is still `customer`: a concurrent run may
    have forgotten it and a new one been made since), its creation key moved on, and its
    saved cards removed (they were the lost customer's); whether it was still stored."""
    forgotten = await conn.fetchval(
        """
        UPDATE stripe_customers SET stripe_customer_id = NULL, attempt = attempt + 1,
            updated_at = $3
        WHERE client_id = $1 AND stripe_customer_id = $2
        RETURNING client_id
        """,
        client_id, customer, now,
    )  # fmt: skip
    if forgotten is None:
        return False
    await conn.execute(
        """
        UPDATE payment_methods SET removed_at = $2, is_default = false
        WHERE client_id = $1 AND removed_at IS NULL
        """,
        client_id, now,
    )  # fmt: skip
    return True
