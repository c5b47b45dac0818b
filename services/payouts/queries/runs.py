"""payouts, payout_lines, payout_reversals and payout_runs: the payout run and its transfers.

Reads the ledger's tables (ledger_accounts, journal_entries, journal_lines) for the entries a
payout covers, the same rule as ledger_reads' payable due; payout_schedules, payout_holds and
payout_accounts are payouts' own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from schemas.payout_runs import HoldReason, PayoutLineOut, PayoutRow, PayoutRunOut, PayoutStatus
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page

_SELECT = """
    SELECT id, provider_id, run_date, period_end, amount_cents, sessions_cents, recoupments_cents,
    other_cents, status, attempt, errors, lease_until, hold_reason, failure_code, destination,
    stripe_transfer_id, transfer_group, reversed_cents, paid_at, cancel_reason, cancelled_at,
    created_at, updated_at
    FROM payouts
"""


async def list_candidates(
    conn: asyncpg.Connection, provider_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    """Every provider with a payable account: their schedule in force (none: the default),
    whether a hold is open, and whether their Connect account can be paid."""
    return await conn.fetch(
        """
        SELECT a.owner_id AS provider_id, s.kind, s.anchor_weekday, s.anchor_date,
               EXISTS (SELECT 1 FROM payout_holds h
                       WHERE h.provider_id = a.owner_id AND h.released_at IS NULL) AS held
        FROM ledger_accounts a
        LEFT JOIN LATERAL (
            SELECT kind, anchor_weekday, anchor_date FROM payout_schedules ps
            WHERE ps.provider_id = a.owner_id ORDER BY seq DESC LIMIT 1
        ) s ON true
        WHERE a.kind = 'provider_payable' AND ($1::uuid IS NULL OR a.owner_id = $1)
        ORDER BY a.owner_id
        """,
        provider_id,
    )


async def lock_provider_runs(conn: asyncpg.Connection, provider_ids: list[uuid.UUID]) -> None:
    """Serialize two runs freezing one provider's entries (two workers, the cron and ops).

    The locks are taken in one order (their keys ascending), so two runs over overlapping sets
    of providers wait for each other instead of deadlocking."""
    await conn.execute(
        """
        SELECT pg_advisory_xact_lock(k) FROM (
            SELECT DISTINCT hashtextextended('payout_run:' || p::text, 0) AS k
            FROM unnest($1::uuid[]) AS p ORDER BY k OFFSET 0
        ) keys
        """,
        provider_ids,
    )


# Each provider_payable entry not yet covered by a payout (payouts frozen themselves aside):
# a session's entries once its completion is older than the edit window at the cutoff, every
# other entry once made by the cutoff (ledger_reads._DUE counts the same). A session has one
# completion entry (journal_entries_one_completion), so a completion line is due by its own
# date, and only a session's other entries (its edits, rare) look their completion up. Then,
# in the same statement: each provider's totals, the payouts of those owed at least the
# minimum (held no_payout_account without a Connect account that can be paid; none where the
# period has one) and every line of those made. `uncovered` is read once (a CTE named twice is
# materialized); no line leaves the database: 500,000 of them through Python took most of a
# run's time.
_FREEZE = """
WITH mine AS (
    SELECT a.owner_id AS provider_id, a.id AS account_id, l.entry_id, l.kind, l.source_table,
           l.source_id, l.occurred_at, bool_or(l.covered) AS covered,
           sum(CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END)::bigint
               AS net
    FROM ledger_accounts a
    -- Each account's lines by its index, each with its entry (by key) and whether a payout of
    -- the provider covers it: LATERAL, so every plan reads one provider's lines and payout
    -- lines (OFFSET 0 keeps the planner from flattening it into joins over every journal line
    -- and every payout line: the statistics of payout_lines, which a run grows by the hundred
    -- thousand, had it scan all of them for each batch). The entry joined in here, not outside:
    -- outside, the planner put a cache before the entries' key that never hit (an entry per
    -- line), ~6 % of the statement.
    CROSS JOIN LATERAL (
        SELECT l.entry_id, l.side, l.amount_cents, p.entry_id IS NOT NULL AS covered, e.kind,
               e.source_table, e.source_id, e.occurred_at
        FROM journal_lines l
        JOIN journal_entries e ON e.id = l.entry_id
        LEFT JOIN payout_lines p ON p.provider_id = a.owner_id AND p.entry_id = l.entry_id
        WHERE l.account_id = a.id
        OFFSET 0
    ) l
    WHERE a.kind = 'provider_payable' AND a.owner_id = ANY($1::uuid[])
    GROUP BY a.owner_id, a.id, l.entry_id, l.kind, l.source_table, l.source_id, l.occurred_at
), uncovered AS (
    SELECT m.provider_id, m.entry_id, m.kind, m.source_table, m.source_id, m.net,
           m.occurred_at
    FROM mine m
    WHERE NOT m.covered AND m.kind <> 'payout_frozen' AND m.net <> 0
      AND CASE WHEN m.source_table <> 'therapy_sessions'
               -- A deduction (a recoupment, say) booked after the cutoff but before this
               -- freeze is taken now: left for the next payout, this one would pay more
               -- than is owed.
               THEN m.occurred_at <= $2 OR m.net < 0
               WHEN m.kind = 'completion' THEN m.occurred_at <= $3
               -- An edit: due with its session's completion (none on the account: never).
               ELSE (SELECT c.occurred_at FROM journal_entries c
                     JOIN journal_lines cl ON cl.entry_id = c.id
                                          AND cl.account_id = m.account_id
                     WHERE c.source_table = 'therapy_sessions' AND c.source_id = m.source_id
                       AND c.kind = 'completion'
                     ORDER BY c.occurred_at LIMIT 1) <= $3 END
), totals AS (
    SELECT provider_id, sum(net)::bigint AS amount,
           coalesce(sum(net) FILTER (WHERE source_table = 'therapy_sessions'), 0)::bigint
               AS sessions,
           coalesce(-sum(net) FILTER (WHERE kind = 'recoupment'), 0)::bigint AS recouped
    FROM uncovered GROUP BY provider_id
), made AS (
    INSERT INTO payouts (provider_id, run_date, period_end, amount_cents, sessions_cents,
                         recoupments_cents, other_cents, status, hold_reason, created_at,
                         updated_at)
    SELECT t.provider_id, $4, $2, t.amount, t.sessions, t.recouped,
           t.amount - t.sessions + t.recouped,
           CASE WHEN a.provider_id IS NULL THEN 'held' ELSE 'pending' END,
           CASE WHEN a.provider_id IS NULL THEN 'no_payout_account' END, $6, $6
    FROM totals t
    LEFT JOIN payout_accounts a ON a.provider_id = t.provider_id AND a.payouts_enabled
         AND a.stripe_account_id IS NOT NULL
    WHERE t.amount >= $5
    ORDER BY t.provider_id
    ON CONFLICT (provider_id, period_end) DO NOTHING
    RETURNING id, provider_id, amount_cents, hold_reason
), lines AS (
    INSERT INTO payout_lines (payout_id, provider_id, entry_id, amount_cents)
    SELECT made.id, u.provider_id, u.entry_id, u.net
    FROM uncovered u JOIN made ON made.provider_id = u.provider_id
)
SELECT t.provider_id, t.amount, made.id AS payout_id, made.hold_reason
FROM totals t LEFT JOIN made ON made.provider_id = t.provider_id
"""


@dataclass(frozen=True)
class Frozen:
    """A provider's uncovered total at the freeze, and the payout made of it (if one was)."""

    amount_cents: int
    payout_id: uuid.UUID | None
    hold_reason: HoldReason | None


async def insert_frozen_payouts(
    conn: asyncpg.Connection, provider_ids: list[uuid.UUID], cutoff: datetime,
    window_end: datetime, run_date: date, minimum_cents: int, now: datetime,
) -> dict[uuid.UUID, Frozen]:  # fmt: skip
    """The providers' payouts for the cutoff, each with its lines, in one statement: provider
    -> what was frozen (a provider with nothing uncovered is left out; one owed at least
    `minimum_cents` without a payout made here already has one for this cutoff)."""
    rows = await conn.fetch(_FREEZE, provider_ids, cutoff, window_end, run_date, minimum_cents,
                            now)  # fmt: skip
    return {r["provider_id"]: Frozen(r["amount"], r["payout_id"], r["hold_reason"]) for r in rows}


async def list_lines(conn: asyncpg.Connection, payout_id: uuid.UUID) -> list[PayoutLineOut]:
    rows = await conn.fetch(
        """
        SELECT l.entry_id, e.kind, e.source_table, e.source_id, e.memo AS reason,
               l.amount_cents, e.occurred_at
        FROM payouts p
        JOIN payout_lines l ON l.provider_id = p.provider_id AND l.payout_id = p.id
        JOIN journal_entries e ON e.id = l.entry_id
        WHERE p.id = $1 ORDER BY e.occurred_at, l.entry_id
        """,
        payout_id,
    )
    return to_structs(rows, PayoutLineOut)


async def get_payout(
    conn: asyncpg.Connection, payout_id: uuid.UUID, provider_id: uuid.UUID | None = None
) -> PayoutRow | None:
    """The payout; `provider_id` set: only that provider's (a provider's own scope)."""
    row = await conn.fetchrow(
        _SELECT + "WHERE id = $1 AND ($2::uuid IS NULL OR provider_id = $2)",
        payout_id, provider_id,
    )  # fmt: skip
    return to_struct(row, PayoutRow)


async def lock_payout(conn: asyncpg.Connection, payout_id: uuid.UUID) -> PayoutRow | None:
    return to_struct(await conn.fetchrow(_SELECT + "WHERE id = $1 FOR UPDATE", payout_id),
                     PayoutRow)  # fmt: skip


async def lock_payout_by_transfer(
    conn: asyncpg.Connection, transfer_id: str, payout_id: uuid.UUID | None
) -> PayoutRow | None:
    """Our payout of a Stripe transfer: by the transfer's id, else by the id in its metadata."""
    row = await conn.fetchrow(
        _SELECT + "WHERE stripe_transfer_id = $1 OR (stripe_transfer_id IS NULL AND id = $2) "
        "ORDER BY stripe_transfer_id NULLS LAST LIMIT 1 FOR UPDATE",
        transfer_id, payout_id,
    )  # fmt: skip
    return to_struct(row, PayoutRow)


async def list_payouts(
    conn: asyncpg.Connection, filters: tuple[PayoutStatus | None, uuid.UUID | None, date | None],
    after: After | None, limit: int,
) -> list[PayoutRow]:  # fmt: skip
    """Newest first, filtered by status, provider and run date."""
    status, provider_id, run_date = filters
    return await fetch_page(
        conn, PayoutRow,
        _SELECT + """WHERE ($1::text IS NULL OR status = $1)
                       AND ($2::uuid IS NULL OR provider_id = $2)
                       AND ($3::date IS NULL OR run_date = $3)""",
        status, provider_id, run_date, after=after, limit=limit, newest_first=True,
    )  # fmt: skip


async def list_requeueable(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Held payouts whose reason may have passed: funds short (Stripe says at the next try),
    a provider hold since released, or no account that can be paid when one can be now."""
    rows = await conn.fetch(
        """
        SELECT p.id FROM payouts p
        LEFT JOIN payout_accounts a ON a.provider_id = p.provider_id
        WHERE p.status = 'held'
          AND (p.hold_reason IN ('insufficient_platform_balance', 'provider_hold')
               OR (p.hold_reason = 'no_payout_account' AND a.payouts_enabled
                   AND a.stripe_account_id IS NOT NULL))
          AND NOT EXISTS (SELECT 1 FROM payout_holds h
                          WHERE h.provider_id = p.provider_id AND h.released_at IS NULL)
        ORDER BY p.created_at, p.id
        """
    )
    return [r["id"] for r in rows]


async def list_held_for_funds(conn: asyncpg.Connection) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM payouts WHERE status = 'held' "
        "AND hold_reason = 'insufficient_platform_balance' ORDER BY created_at, id"
    )
    return [r["id"] for r in rows]


async def get_destination(conn: asyncpg.Connection, provider_id: uuid.UUID) -> str | None:
    """The provider's Connect account when Stripe says it can be paid, else None."""
    found: str | None = await conn.fetchval(
        "SELECT stripe_account_id FROM payout_accounts WHERE provider_id = $1 AND payouts_enabled",
        provider_id,
    )
    return found


async def list_destinations(
    conn: asyncpg.Connection, provider_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """get_destination of many providers: those whose Connect account can be paid."""
    rows = await conn.fetch(
        "SELECT provider_id, stripe_account_id FROM payout_accounts "
        "WHERE provider_id = ANY($1::uuid[]) AND payouts_enabled "
        "AND stripe_account_id IS NOT NULL",
        provider_ids,
    )
    return {r["provider_id"]: r["stripe_account_id"] for r in rows}


async def has_open_hold(conn: asyncpg.Connection, provider_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM payout_holds WHERE provider_id = $1 "
        "AND released_at IS NULL)", provider_id,
    ))  # fmt: skip


async def update_payout(
    conn: asyncpg.Connection, payout_id: uuid.UUID, status: PayoutStatus, *,
    lease: datetime | None = None, hold_reason: HoldReason | None = None,
    failure_code: str | None = None, now: datetime,
) -> None:  # fmt: skip
    """A new status; paid stamps its time."""
    await conn.execute(
        """
        UPDATE payouts SET status = $2, lease_until = $3, hold_reason = $4,
            failure_code = coalesce($5, failure_code),
            paid_at = CASE WHEN $2 = 'paid' THEN $6::timestamptz END, updated_at = $6
        WHERE id = $1
        """,
        payout_id, status, lease, hold_reason, failure_code, now,
    )  # fmt: skip


async def update_claimed(
    conn: asyncpg.Connection, payout_id: uuid.UUID, attempt: int, lease: datetime,
    destination: str, now: datetime,
) -> None:  # fmt: skip
    await conn.execute(
        """
        UPDATE payouts SET status = 'submitting', attempt = $2, lease_until = $3,
            destination = $4, hold_reason = NULL, updated_at = $5
        WHERE id = $1
        """,
        payout_id, attempt, lease, destination, now,
    )  # fmt: skip


async def update_requeued(
    conn: asyncpg.Connection, ids: list[uuid.UUID], now: datetime
) -> list[uuid.UUID]:
    """Those of the payouts still held, pending again (a concurrent run or retry took the
    others)."""
    rows = await conn.fetch(
        """
        UPDATE payouts SET status = 'pending', hold_reason = NULL, lease_until = NULL,
            updated_at = $2
        WHERE id = ANY($1::uuid[]) AND status = 'held'
        RETURNING id
        """,
        ids, now,
    )  # fmt: skip
    return [r["id"] for r in rows]


async def update_errors(conn: asyncpg.Connection, payout_id: uuid.UUID, errors: int) -> None:
    await conn.execute("UPDATE payouts SET errors = $2 WHERE id = $1", payout_id, errors)


async def update_transfer_id(
    conn: asyncpg.Connection, payout_id: uuid.UUID, transfer_id: str, now: datetime
) -> None:
    """The transfer's id, stored as soon as it is known (kept once set)."""
    await conn.execute(
        """
        UPDATE payouts SET stripe_transfer_id = coalesce(stripe_transfer_id, $2), updated_at = $3
        WHERE id = $1
        """,
        payout_id, transfer_id, now,
    )  # fmt: skip


async def insert_reversal(
    conn: asyncpg.Connection, reversal_id: str, payout_id: uuid.UUID, amount: int, now: datetime
) -> bool:
    """The reversal recorded once; False when it was before."""
    made = await conn.fetchval(
        """
        INSERT INTO payout_reversals (stripe_reversal_id, payout_id, amount_cents, created_at)
        VALUES ($1, $2, $3, $4) ON CONFLICT (stripe_reversal_id) DO NOTHING
        RETURNING true
        """,
        reversal_id, payout_id, amount, now,
    )  # fmt: skip
    if made:
        await conn.execute(
            "UPDATE payouts SET reversed_cents = reversed_cents + $2, updated_at = $3 "
            "WHERE id = $1", payout_id, amount, now,
        )  # fmt: skip
    return bool(made)


async def upsert_run(
    conn: asyncpg.Connection, run_date: date, due: int, below: int, now: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO payout_runs (run_date, providers_due, below_minimum, last_run_at, created_at)
        VALUES ($1, $2, $3, $4, $4)
        ON CONFLICT (run_date) DO UPDATE SET runs = payout_runs.runs + 1,
            providers_due = EXCLUDED.providers_due, below_minimum = EXCLUDED.below_minimum,
            last_run_at = EXCLUDED.last_run_at
        """,
        run_date, due, below, now,
    )  # fmt: skip


# Run dates with their payouts' totals by status (one row each); the caller adds its WHERE.
# A cancelled payout's money is owed again (a later payout pays it): it is counted apart, never
# in `payouts` or `total_cents`, so those add up to what the run sends.
_RUNS = """
    SELECT * FROM (
        SELECT r.id, r.run_date, r.runs, r.providers_due, r.below_minimum, r.last_run_at,
               r.created_at,
               count(p.id) FILTER (WHERE p.status <> 'cancelled') AS payouts,
               coalesce(sum(p.amount_cents) FILTER (WHERE p.status <> 'cancelled'), 0)::bigint
                   AS total_cents,
               count(p.id) FILTER (WHERE p.status = 'paid') AS paid,
               coalesce(sum(p.amount_cents) FILTER (WHERE p.status = 'paid'), 0)::bigint
                   AS paid_cents,
               count(p.id) FILTER (WHERE p.status IN ('pending', 'submitting')) AS pending,
               count(p.id) FILTER (WHERE p.status = 'held') AS held,
               count(p.id) FILTER (WHERE p.status = 'failed') AS failed,
               count(p.id) FILTER (WHERE p.status = 'cancelled') AS cancelled,
               coalesce(sum(p.amount_cents) FILTER (WHERE p.status = 'cancelled'), 0)::bigint
                   AS cancelled_cents
        FROM payout_runs r LEFT JOIN payouts p ON p.run_date = r.run_date
        GROUP BY r.id
    ) r
"""


async def list_runs(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[PayoutRunOut]:
    """Run dates, newest first."""
    return await fetch_page(conn, PayoutRunOut, _RUNS + " WHERE true", after=after, limit=limit,
                            alias="r", newest_first=True)  # fmt: skip


async def list_paid_periods(
    conn: asyncpg.Connection, provider_ids: list[uuid.UUID], cutoff: datetime
) -> set[uuid.UUID]:
    """Those of the providers with a payout for this cutoff."""
    rows = await conn.fetch(
        "SELECT provider_id FROM payouts WHERE provider_id = ANY($1::uuid[]) AND period_end = $2",
        provider_ids, cutoff,
    )  # fmt: skip
    return {r["provider_id"] for r in rows}


async def get_run(conn: asyncpg.Connection, run_date: date) -> PayoutRunOut | None:
    rows = await fetch_page(
        conn, PayoutRunOut, _RUNS + " WHERE r.run_date = $1", run_date,
        after=None, limit=1, alias="r", newest_first=True,
    )  # fmt: skip
    return rows[0] if rows else None
