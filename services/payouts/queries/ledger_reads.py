"""What the ledger says a provider is owed, and the trial-balance checks.

Reads ledger_accounts, journal_entries and journal_lines (the ledger's tables): what is due is
one aggregate over the provider's provider_payable lines, which beats reading every entry
through the ledger's service. Writes trial_balance_checks.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.payouts import TrialBalanceCheckOut
from services.core.db import one
from services.core.pagination import After, fetch_page

# Credit +: what the platform owes. A session's entries (its completion and edits) count once
# its completion is older than the edit window at the cutoff (window_end = cutoff - window);
# every other entry (recoupments, corrections, payouts frozen, reversals) once made by the
# cutoff, and a deduction whenever it was made (a payout never pays what a recoupment already
# took back). The payout run freezes the same lines.
_DUE = """
WITH lines AS (
    SELECT e.kind, e.source_table, e.source_id, e.occurred_at,
           CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END AS net
    FROM ledger_accounts a
    JOIN journal_lines l ON l.account_id = a.id
    JOIN journal_entries e ON e.id = l.entry_id
    WHERE a.kind = 'provider_payable' AND a.owner_id = $1
), completed AS (
    SELECT source_id, min(occurred_at) AS confirmed_at FROM lines
    WHERE source_table = 'therapy_sessions' AND kind = 'completion'
    GROUP BY source_id
), counted AS (
    SELECT l.kind, l.source_table, l.source_id, l.net,
           CASE WHEN l.source_table = 'therapy_sessions' THEN c.confirmed_at <= $3
                ELSE l.occurred_at <= $2 OR l.net < 0 END AS due
    FROM lines l LEFT JOIN completed c ON c.source_id = l.source_id
)
SELECT
    coalesce(sum(net) FILTER (WHERE due AND source_table = 'therapy_sessions'), 0)
        AS sessions_cents,
    count(DISTINCT source_id) FILTER (WHERE due AND source_table = 'therapy_sessions')
        AS sessions,
    coalesce(-sum(net) FILTER (WHERE due AND kind = 'recoupment'), 0) AS recoupments_cents,
    coalesce(sum(net) FILTER (
        WHERE due AND source_table <> 'therapy_sessions' AND kind <> 'recoupment'), 0)
        AS other_cents
FROM counted
"""


async def get_payable_due(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cutoff: datetime, window_end: datetime
) -> tuple[int, int, int, int]:
    """(sessions_cents, sessions, recoupments_cents, other_cents) at the cutoff."""
    row = await conn.fetchrow(_DUE, provider_id, cutoff, window_end)
    assert row is not None
    return (int(row["sessions_cents"]), int(row["sessions"]), int(row["recoupments_cents"]),
            int(row["other_cents"]))  # fmt: skip


async def insert_check(
    conn: asyncpg.Connection, debits: int, credits: int, accounts: int, now: datetime
) -> TrialBalanceCheckOut:
    row = await conn.fetchrow(
        """
        INSERT INTO trial_balance_checks (debits_cents, credits_cents, imbalance_cents, accounts,
                                          created_at)
        VALUES ($1, $2, $1::bigint - $2::bigint, $3, $4)
        RETURNING id, debits_cents, credits_cents, imbalance_cents, accounts, balanced, created_at
        """,
        debits, credits, accounts, now,
    )  # fmt: skip
    return one(row, TrialBalanceCheckOut)


async def get_latest_check(conn: asyncpg.Connection) -> TrialBalanceCheckOut | None:
    """The newest check (the index on (created_at, id) answers it with one row read)."""
    row = await conn.fetchrow(
        """
        SELECT id, debits_cents, credits_cents, imbalance_cents, accounts, balanced, created_at
        FROM trial_balance_checks ORDER BY created_at DESC, id DESC LIMIT 1
        """
    )
    return None if row is None else one(row, TrialBalanceCheckOut)


async def list_checks(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[TrialBalanceCheckOut]:
    """Newest first."""
    return await fetch_page(
        conn, TrialBalanceCheckOut,
        """
        SELECT id, debits_cents, credits_cents, imbalance_cents, accounts, balanced, created_at
        FROM trial_balance_checks WHERE true
        """,
        after=after, limit=limit, newest_first=True,
    )  # fmt: skip
