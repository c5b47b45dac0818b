"""The SQL of what a client sees of their money (charges, refunds, balance, monthly statement)
and of ops' failed payments and balances due. Read only.

Reads other domains' tables, one query rather than one per domain: the ledger's
ledger_accounts, journal_entries and journal_lines (client_receivable: what the client owes);
remittance's client_true_ups (a true-up's reason, and the part ops review) and remitted_claims
(an 835 entry's claim); claims (a session's claim and its date of service); therapy_sessions
(what was billed); providers (the provider's name); clients (the client's name and address for
ops and the statement email).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from schemas.payments import ChargeKind, ChargeStatus, FailedChargeRow, RefundStatus
from services.core.db import to_structs
from services.core.pagination import After, fetch_page


class SessionFacts(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    session_date: date
    provider_name: str


async def list_sessions(
    conn: asyncpg.Connection, session_ids: list[uuid.UUID], tz: str
) -> dict[uuid.UUID, SessionFacts]:
    """Each session's date of service (its first claim's, else the start's date in the
    statement time zone) and its provider's name."""
    rows = await conn.fetch(
        """
        SELECT s.id,
               coalesce((SELECT min(c.service_date) FROM claims c
                         WHERE c.therapy_session_id = s.id),
                        (coalesce(s.started_at, s.starts_at) AT TIME ZONE $2::text)::date)
                   AS session_date,
               p.first_name || ' ' || p.last_name AS provider_name
        FROM therapy_sessions s JOIN providers p ON p.id = s.provider_id
        WHERE s.id = ANY ($1::uuid[])
        """,
        session_ids,
        tz,
    )
    return {r["id"]: msgspec.convert(dict(r), SessionFacts) for r in rows}


class ChargeLine(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    created_at: datetime
    kind: ChargeKind
    amount_cents: int
    status: ChargeStatus
    failure_code: str | None
    decline_code: str | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    card_brand: str | None
    card_last4: str | None
    session_id: uuid.UUID | None
    true_up_reason: str | None


_CHARGES = """
SELECT ch.id, ch.created_at, ch.kind, ch.amount_cents, ch.status, ch.failure_code,
       ch.decline_code, ch.succeeded_at, ch.failed_at,
       coalesce(ch.card_brand, pm.brand) AS card_brand,
       coalesce(ch.card_last4, pm.last4) AS card_last4, tu.reason AS true_up_reason,
       s.id AS session_id
FROM client_charges ch
LEFT JOIN payment_methods pm ON pm.id = ch.payment_method_id
LEFT JOIN client_true_ups tu ON ch.source_table = 'client_true_ups' AND tu.id = ch.source_id
LEFT JOIN claims tc ON tc.id = tu.claim_id
LEFT JOIN therapy_sessions s ON s.id = CASE WHEN ch.source_table = 'therapy_sessions'
                                            THEN ch.source_id ELSE tc.therapy_session_id END
WHERE ch.client_id = $1"""


async def list_charges(
    conn: asyncpg.Connection, client_id: uuid.UUID, after: After | None, limit: int
) -> list[ChargeLine]:
    """The client's charges, newest first, with the session and card each is about."""
    rows = await fetch_page(
        conn, ChargeLine, _CHARGES, client_id, after=after, limit=limit, alias="ch",
        newest_first=True,
    )  # fmt: skip
    return rows


class RefundLine(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    created_at: datetime
    charge_id: uuid.UUID
    amount_cents: int
    status: RefundStatus
    failure_code: str | None
    succeeded_at: datetime | None
    card_brand: str | None
    card_last4: str | None
    session_id: uuid.UUID | None
    reason: str | None


_REFUNDS = """
SELECT r.id, r.created_at, r.charge_id, r.amount_cents, r.status, r.failure_code,
       r.succeeded_at, coalesce(ch.card_brand, pm.brand) AS card_brand,
       coalesce(ch.card_last4, pm.last4) AS card_last4, tu.reason,
       s.id AS session_id
FROM client_refunds r
JOIN client_charges ch ON ch.id = r.charge_id
LEFT JOIN payment_methods pm ON pm.id = ch.payment_method_id
LEFT JOIN client_true_ups tu ON tu.id = r.true_up_id
LEFT JOIN claims tc ON tc.id = tu.claim_id
LEFT JOIN therapy_sessions s ON s.id = CASE WHEN ch.source_table = 'therapy_sessions'
                                            THEN ch.source_id ELSE tc.therapy_session_id END
WHERE r.client_id = $1"""


async def list_refunds(
    conn: asyncpg.Connection, client_id: uuid.UUID, after: After | None, limit: int
) -> list[RefundLine]:
    """The client's refunds, newest first, with the session and card each is about."""
    rows = await fetch_page(
        conn, RefundLine, _REFUNDS, client_id, after=after, limit=limit, alias="r",
        newest_first=True,
    )  # fmt: skip
    return rows


class BalanceRow(msgspec.Struct, frozen=True, kw_only=True):
    client_id: uuid.UUID
    client_name: str
    balance_cents: int
    being_charged_cents: int
    being_refunded_cents: int
    in_review_cents: int
    written_off_cents: int
    failed_charges: int
    oldest_due_at: datetime
    owed_now_cents: int


# Per client ($1: one client, NULL: every client): the ledger's client_receivable, what is
# under way (charges, refunds), what ops still review, what was written off, and since when a
# balance is due (the oldest charge left failed or a balance due, not written off, and not
# reduced to nothing by a credit; else the oldest true-up left a balance due without a charge;
# else the last entry). A write-off and its reinstatement are both bad_debt entries.
_BALANCES = """
WITH receivable AS (
    SELECT a.owner_id AS client_id,
           sum(CASE WHEN l.side = 'debit' THEN l.amount_cents ELSE -l.amount_cents END)
               AS balance,
           coalesce(sum(CASE WHEN l.side = 'credit' THEN l.amount_cents
                             ELSE -l.amount_cents END) FILTER (WHERE e.kind = 'bad_debt'), 0)
               AS written_off,
           max(e.occurred_at) AS last_at
    FROM ledger_accounts a
    JOIN journal_lines l ON l.account_id = a.id
    JOIN journal_entries e ON e.id = l.entry_id
    WHERE a.kind = 'client_receivable' AND ($1::uuid IS NULL OR a.owner_id = $1)
    GROUP BY a.owner_id
), charging AS (
    SELECT client_id, sum(amount_cents - credit_applied_cents) AS cents FROM client_charges
    WHERE status IN ('pending', 'submitting') AND ($1::uuid IS NULL OR client_id = $1)
    GROUP BY client_id
), refunding AS (
    SELECT client_id, sum(amount_cents) AS cents FROM client_refunds
    WHERE status IN ('pending', 'submitting') AND ($1::uuid IS NULL OR client_id = $1)
    GROUP BY client_id
), review AS (
    SELECT client_id, sum(amount_cents) AS cents FROM client_true_ups
    WHERE status = 'ops_review' AND ($1::uuid IS NULL OR client_id = $1)
    GROUP BY client_id
), failed AS (
    SELECT ch.client_id, count(*) AS n, min(coalesce(ch.failed_at, ch.created_at)) AS since
    FROM client_charges ch
    LEFT JOIN charge_recoveries cr ON cr.charge_id = ch.id
    WHERE ch.status IN ('failed', 'balance_due') AND ($1::uuid IS NULL OR ch.client_id = $1)
      AND coalesce(cr.status, '') NOT IN ('written_off', 'paid')
      AND ch.amount_cents - ch.credit_applied_cents
          > (SELECT coalesce(sum(r.amount_cents), 0) FROM client_refunds r
                             WHERE r.charge_id = ch.id AND r.status = 'applied')
    GROUP BY ch.client_id
), uncharged AS (
    SELECT tu.client_id, min(coalesce(tu.settled_at, tu.updated_at)) AS since
    FROM client_true_ups tu
    WHERE tu.status = 'balance_due' AND ($1::uuid IS NULL OR tu.client_id = $1)
      AND NOT EXISTS (SELECT 1 FROM client_charges ch
                      WHERE ch.source_table = 'client_true_ups' AND ch.source_id = tu.id)
    GROUP BY tu.client_id
), balances AS (
    SELECT r.client_id, cl.first_name || ' ' || cl.last_name AS client_name,
           r.balance AS balance_cents,
           coalesce(c.cents, 0) AS being_charged_cents,
           coalesce(f.cents, 0) AS being_refunded_cents,
           coalesce(v.cents, 0) AS in_review_cents,
           r.written_off AS written_off_cents,
           coalesce(fd.n, 0) AS failed_charges,
           coalesce(least(fd.since, u.since), r.last_at) AS oldest_due_at,
           r.balance - coalesce(c.cents, 0) + coalesce(f.cents, 0) - coalesce(v.cents, 0)
               AS net
    FROM receivable r
    JOIN clients cl ON cl.id = r.client_id
    LEFT JOIN charging c ON c.client_id = r.client_id
    LEFT JOIN refunding f ON f.client_id = r.client_id
    LEFT JOIN review v ON v.client_id = r.client_id
    LEFT JOIN failed fd ON fd.client_id = r.client_id
    LEFT JOIN uncharged u ON u.client_id = r.client_id
)
SELECT client_id, client_name, balance_cents::bigint, being_charged_cents::bigint,
       being_refunded_cents::bigint, in_review_cents::bigint, written_off_cents::bigint,
       failed_charges::bigint, oldest_due_at, greatest(net, 0)::bigint AS owed_now_cents
FROM balances
WHERE (NOT $2::boolean OR net > 0)
  AND ($3::timestamptz IS NULL OR (oldest_due_at, client_id) > ($3, $4::uuid))
ORDER BY oldest_due_at, client_id LIMIT $5"""


async def get_balance(conn: asyncpg.Connection, client_id: uuid.UUID) -> BalanceRow | None:
    """The client's balance; None when their receivable has no line yet."""
    row = await conn.fetchrow(_BALANCES, client_id, False, None, None, None)
    return None if row is None else msgspec.convert(dict(row), BalanceRow)


async def list_balances_due(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[BalanceRow]:
    """Clients who owe something not being charged, oldest balance first (then by id)."""
    at, last = after or (None, None)
    rows = await conn.fetch(_BALANCES, None, True, at, last, limit)
    return to_structs(rows, BalanceRow)


_FAILED = """
SELECT ch.id, ch.created_at, ch.client_id, cl.first_name || ' ' || cl.last_name AS client_name,
       ch.kind, ch.amount_cents, ch.status, ch.failure_code, ch.decline_code, ch.failed_at,
       ch.attempt, ch.credit_applied_cents, cr.status AS recovery_status, cr.decline_class
FROM client_charges ch JOIN clients cl ON cl.id = ch.client_id
LEFT JOIN charge_recoveries cr ON cr.charge_id = ch.id
WHERE ch.status = ANY ($1::text[])
  AND ($2::uuid IS NULL OR ch.client_id = $2)
  AND ($3::text IS NULL OR ch.kind = $3)
  AND ($4::text IS NULL OR ch.failure_code = $4 OR ch.decline_code = $4)
  AND ($5::timestamptz IS NULL OR ch.created_at >= $5)
  AND ($6::boolean OR cr.status IS DISTINCT FROM 'paid')"""


async def list_failed(
    conn: asyncpg.Connection,
    statuses: list[str],
    filters: tuple[uuid.UUID | None, str | None, str | None, datetime | None, bool],
    after: After | None,
    limit: int,
) -> list[FailedChargeRow]:
    """Charges that did not go through, oldest first; filters (client, kind, code, since,
    whether those a credit settled since, their recovery `paid`, are listed too)."""
    return await fetch_page(
        conn, FailedChargeRow, _FAILED, statuses, *filters, after=after, limit=limit, alias="ch"
    )


async def get_receivable_at(
    conn: asyncpg.Connection, client_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[int, int]:
    """The client's receivable (debits - credits) before `start` and before `end`."""
    row = await conn.fetchrow(
        """
        SELECT coalesce(sum(CASE WHEN l.side = 'debit' THEN l.amount_cents
                                 ELSE -l.amount_cents END)
                            FILTER (WHERE e.occurred_at < $2), 0)::bigint AS opening,
               coalesce(sum(CASE WHEN l.side = 'debit' THEN l.amount_cents
                                 ELSE -l.amount_cents END)
                            FILTER (WHERE e.occurred_at < $3), 0)::bigint AS closing
        FROM ledger_accounts a
        JOIN journal_lines l ON l.account_id = a.id
        JOIN journal_entries e ON e.id = l.entry_id
        WHERE a.kind = 'client_receivable' AND a.owner_id = $1
        """,
        client_id,
        start,
        end,
    )
    assert row is not None
    return row["opening"], row["closing"]


class EntryLine(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: int
    occurred_at: datetime
    kind: str
    amount_cents: int  # signed: debit +
    charge_kind: str | None
    card_brand: str | None
    card_last4: str | None
    session_id: uuid.UUID | None
    reason: str | None


# Each entry of the month on the client's receivable (its lines on it netted), and what its
# source says: a charge's or refund's card, the session (directly, through a claim, an 835
# claim, a true-up, or a charge or refund of one), the true-up's reason.
_ENTRIES = """
WITH moved AS (
    SELECT e.id, e.occurred_at, e.kind, e.source_table, e.source_id,
           sum(CASE WHEN l.side = 'debit' THEN l.amount_cents ELSE -l.amount_cents END)
               AS amount_cents
    FROM ledger_accounts a
    JOIN journal_lines l ON l.account_id = a.id
    JOIN journal_entries e ON e.id = l.entry_id
    WHERE a.kind = 'client_receivable' AND a.owner_id = $1
      AND e.occurred_at >= $2 AND e.occurred_at < $3
    GROUP BY e.id
)
SELECT m.id AS entry_id, m.occurred_at, m.kind, m.amount_cents::bigint,
       coalesce(ch.kind, rch.kind) AS charge_kind,
       coalesce(ch.card_brand, rch.card_brand, pm.brand) AS card_brand,
       coalesce(ch.card_last4, rch.card_last4, pm.last4) AS card_last4,
       coalesce(tr.reason, tu.reason) AS reason,
       s.id AS session_id
FROM moved m
LEFT JOIN client_charges ch ON m.source_table = 'client_charges' AND ch.id = m.source_id
LEFT JOIN client_refunds rf ON m.source_table = 'client_refunds' AND rf.id = m.source_id
LEFT JOIN client_charges rch ON rch.id = rf.charge_id
LEFT JOIN payment_methods pm ON pm.id = coalesce(ch.payment_method_id, rch.payment_method_id)
LEFT JOIN remitted_claims rc ON m.source_table = 'remitted_claims' AND rc.id = m.source_id
LEFT JOIN client_true_ups tr ON tr.remitted_claim_id = rc.id
LEFT JOIN client_true_ups tu ON tu.id = CASE
    WHEN m.source_table = 'client_true_ups' THEN m.source_id
    WHEN m.source_table = 'client_refunds' THEN rf.true_up_id
    WHEN ch.source_table = 'client_true_ups' THEN ch.source_id END
LEFT JOIN claims cl ON cl.id = CASE
    WHEN m.source_table = 'claims' THEN m.source_id
    WHEN m.source_table = 'remitted_claims' THEN rc.claim_id
    ELSE tu.claim_id END
LEFT JOIN therapy_sessions s ON s.id = CASE
    WHEN m.source_table = 'therapy_sessions' THEN m.source_id
    WHEN ch.source_table = 'therapy_sessions' THEN ch.source_id
    WHEN rch.source_table = 'therapy_sessions' AND tu.id IS NULL THEN rch.source_id
    ELSE cl.therapy_session_id END
WHERE m.amount_cents <> 0
ORDER BY m.occurred_at, m.id"""


async def list_month_entries(
    conn: asyncpg.Connection, client_id: uuid.UUID, start: datetime, end: datetime
) -> list[EntryLine]:
    """The entries that moved the client's receivable in [start, end), oldest first."""
    rows = await conn.fetch(_ENTRIES, client_id, start, end)
    return to_structs(rows, EntryLine)


class NoticeFacts(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str
    amount_cents: int
    reason: str
    card_brand: str | None
    card_last4: str | None
    session_id: uuid.UUID | None


async def get_notice_facts(conn: asyncpg.Connection, true_up_id: uuid.UUID) -> NoticeFacts | None:
    """What a true-up notice says: the client's address and name, the true-up's amount and
    reason, its session, and the card on file now."""
    row = await conn.fetchrow(
        """
        SELECT cli.email, cli.first_name, tu.amount_cents, tu.reason, pm.brand AS card_brand,
               pm.last4 AS card_last4, s.id AS session_id
        FROM client_true_ups tu
        JOIN clients cli ON cli.id = tu.client_id
        LEFT JOIN payment_methods pm ON pm.client_id = tu.client_id AND pm.is_default
        LEFT JOIN claims tc ON tc.id = tu.claim_id
        LEFT JOIN therapy_sessions s ON s.id = tc.therapy_session_id
        WHERE tu.id = $1
        """,
        true_up_id,
    )
    return None if row is None else msgspec.convert(dict(row), NoticeFacts)


async def get_client_contact(conn: asyncpg.Connection, client_id: uuid.UUID) -> tuple[str, str]:
    """The client's email address and first name (the statement email's)."""
    row = await conn.fetchrow("SELECT email, first_name FROM clients WHERE id = $1", client_id)
    assert row is not None
    return row["email"], row["first_name"]


async def list_active_clients(
    conn: asyncpg.Connection, start: datetime, end: datetime
) -> list[uuid.UUID]:
    """Clients whose receivable moved in [start, end): the month's statements to send."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT a.owner_id AS client_id
        FROM ledger_accounts a
        JOIN journal_lines l ON l.account_id = a.id
        JOIN journal_entries e ON e.id = l.entry_id
        WHERE a.kind = 'client_receivable' AND e.occurred_at >= $1 AND e.occurred_at < $2
        ORDER BY 1
        """,
        start,
        end,
    )
    return [r["client_id"] for r in rows]


async def insert_statement_emails(
    conn: asyncpg.Connection, client_ids: list[uuid.UUID], month: date, now: datetime
) -> list[uuid.UUID]:
    """The month's statement queued for each client not queued before; those newly queued."""
    rows = await conn.fetch(
        """
        INSERT INTO client_statement_emails (client_id, month, queued_at)
        SELECT unnest($1::uuid[]), $2, $3
        ON CONFLICT (client_id, month) DO NOTHING RETURNING client_id
        """,
        client_ids,
        month,
        now,
    )
    return [r["client_id"] for r in rows]
