"""payout_accounts: each provider's Stripe Connect account (list_unpayable reads payouts too,
the same domain's table)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.payouts import PayoutAccountRow
from services.core.db import to_struct
from services.payouts.connect import Account

_SELECT = """
    SELECT provider_id, stripe_account_id, attempt, called_at, charges_enabled, payouts_enabled,
           details_submitted, requirements_due, disabled_reason, synced_at, created_at
    FROM payout_accounts
"""


async def insert_account(conn: asyncpg.Connection, provider_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO payout_accounts (provider_id, created_at, updated_at) VALUES ($1, $2, $2)
        ON CONFLICT (provider_id) DO NOTHING
        """,
        provider_id,
        now,
    )


async def get_account(conn: asyncpg.Connection, provider_id: uuid.UUID) -> PayoutAccountRow | None:
    row = await conn.fetchrow(
        _SELECT + "WHERE provider_id = $1",
        provider_id,
    )
    return to_struct(row, PayoutAccountRow)


async def lock_account(conn: asyncpg.Connection, provider_id: uuid.UUID) -> PayoutAccountRow | None:
    row = await conn.fetchrow(
        _SELECT + "WHERE provider_id = $1 FOR UPDATE",
        provider_id,
    )
    return to_struct(row, PayoutAccountRow)


async def lock_account_by_stripe_id(
    conn: asyncpg.Connection, account_id: str
) -> PayoutAccountRow | None:
    row = await conn.fetchrow(
        _SELECT + "WHERE stripe_account_id = $1 FOR UPDATE",
        account_id,
    )
    return to_struct(row, PayoutAccountRow)


async def update_called(conn: asyncpg.Connection, provider_id: uuid.UUID, now: datetime) -> None:
    """A call under the row's attempt is about to be made: a later one looks it up first."""
    await conn.execute(
        "UPDATE payout_accounts SET called_at = $2, updated_at = $2 WHERE provider_id = $1",
        provider_id,
        now,
    )


async def update_attempt(
    conn: asyncpg.Connection, provider_id: uuid.UUID, attempt: int, now: datetime
) -> None:
    """Stripe answered attempt n with an error (the key would replay it): the next takes n+1."""
    await conn.execute(
        """
        UPDATE payout_accounts SET attempt = $2 + 1, updated_at = $3
        WHERE provider_id = $1 AND attempt = $2 AND stripe_account_id IS NULL
        """,
        provider_id,
        attempt,
        now,
    )


async def update_synced(
    conn: asyncpg.Connection, provider_id: uuid.UUID, account: Account, now: datetime
) -> None:
    """The account's id (kept once set) and its status as Stripe has it now."""
    await conn.execute(
        """
        UPDATE payout_accounts SET stripe_account_id = coalesce(stripe_account_id, $2),
            charges_enabled = $3, payouts_enabled = $4, details_submitted = $5,
            requirements_due = $6, disabled_reason = $7, synced_at = $8, updated_at = $8
        WHERE provider_id = $1
        """,
        provider_id, account.id, account.charges_enabled, account.payouts_enabled,
        account.details_submitted, list(account.requirements_due), account.disabled_reason, now,
    )  # fmt: skip


async def list_unpayable(
    conn: asyncpg.Connection, limit: int, only: list[uuid.UUID] | None = None,
    waiting: bool = True,
) -> list[PayoutAccountRow]:  # fmt: skip
    """Accounts not payable as far as Hearth knows, that Stripe may know better: those a held
    payout waits on first, then the longest unconfirmed. A row without an account id counts
    only when a call was made (its answer lost). `only`: these providers' (and, `waiting`,
    those a held payout waits on); None: every provider's."""
    rows = await conn.fetch(
        """
        SELECT a.provider_id, a.stripe_account_id, a.attempt, a.called_at, a.charges_enabled,
               a.payouts_enabled, a.details_submitted, a.requirements_due, a.disabled_reason,
               a.synced_at, a.created_at
        FROM payout_accounts a
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM payouts p
                           WHERE p.provider_id = a.provider_id AND p.status = 'held'
                             AND p.hold_reason = 'no_payout_account') AS waits
        ) w
        WHERE NOT a.payouts_enabled
          AND (a.stripe_account_id IS NOT NULL OR a.called_at IS NOT NULL)
          AND ($2::uuid[] IS NULL OR a.provider_id = ANY($2::uuid[]) OR ($3 AND w.waits))
        ORDER BY w.waits DESC, a.synced_at NULLS FIRST, a.provider_id
        LIMIT $1
        """,
        limit, only, waiting,
    )  # fmt: skip
    return [r for r in (to_struct(row, PayoutAccountRow) for row in rows) if r is not None]


async def update_confirmed(conn: asyncpg.Connection, provider_id: uuid.UUID, now: datetime) -> None:
    """Stripe said the same again: only when it was last read changes."""
    await conn.execute(
        "UPDATE payout_accounts SET synced_at = $2, updated_at = $2 WHERE provider_id = $1",
        provider_id,
        now,
    )
