"""SQL for ledger accounts, journal entries and their lines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from schemas.ledger import AccountRow, AccountTotals, EntryIn, EntryOut
from services.core.db import to_structs

# Owned accounts are found by (owner_id, kind); the platform's by kind with no owner. Two
# equality lookups on the UNIQUE (owner_id, kind) index: `IS NOT DISTINCT FROM` would not
# use it.
_ACCOUNTS = """
    SELECT a.id, a.kind, a.owner_id
    FROM unnest($1::text[], $2::uuid[]) AS w (kind, owner_id)
    JOIN ledger_accounts a ON a.owner_id = w.owner_id AND a.kind = w.kind
    UNION ALL
    SELECT a.id, a.kind, a.owner_id
    FROM ledger_accounts a
    WHERE a.owner_id IS NULL
      AND a.kind = ANY (SELECT kind FROM unnest($1::text[], $2::uuid[]) AS w (kind, owner_id)
                        WHERE owner_id IS NULL)
"""

_TOTALS = """
    SELECT a.id AS account_id, a.kind, a.owner_id,
           coalesce(sum(l.amount_cents) FILTER (WHERE l.side = 'debit'), 0)::bigint
               AS debits_cents,
           coalesce(sum(l.amount_cents) FILTER (WHERE l.side = 'credit'), 0)::bigint
               AS credits_cents
    FROM ledger_accounts a
    LEFT JOIN journal_lines l ON l.account_id = a.id
"""
_TOTALS_ORDER = " GROUP BY a.id ORDER BY a.kind, a.owner_id NULLS FIRST"

# One row per line, the entry's columns repeated and the line's prefixed `line_`; lines in
# the order they were posted.
_ENTRY_LINES = """
    SELECT e.id, e.kind, e.idempotency_key, e.occurred_at, e.created_at, e.memo,
           e.source_table, e.source_id, l.id AS line_id, l.account_id AS line_account_id,
           a.kind AS line_kind, a.owner_id AS line_owner_id, l.side AS line_side,
           l.amount_cents AS line_amount_cents, l.claim_id AS line_claim_id
"""
# The entry and its lines in one statement, from CTEs `w` (the lines: n, side, amount_cents,
# claim_id) and `found` (n, account_id): no line is written when the key is taken, and
# nothing unless every line's account was found.
_ENTRY_AND_LINES = """
    e AS (
        INSERT INTO journal_entries (kind, idempotency_key, occurred_at, memo,
                                     source_table, source_id)
        SELECT $1, $2, $3, $4, $5, $6
        WHERE (SELECT count(*) FROM found) = (SELECT count(*) FROM w)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, kind, idempotency_key, occurred_at, created_at, memo,
                  source_table, source_id
    ), l AS (
        INSERT INTO journal_lines (entry_id, account_id, side, amount_cents, claim_id)
        SELECT e.id, found.account_id, w.side, w.amount_cents, w.claim_id
        FROM e, w JOIN found USING (n)
        ORDER BY w.n
        RETURNING id, account_id, side, amount_cents, claim_id
    )
"""
# The lines' accounts by id ($7).
_POST = (
    """
    WITH w AS (
        SELECT * FROM unnest($7::bigint[], $8::text[], $9::bigint[], $10::uuid[])
            WITH ORDINALITY AS w (account_id, side, amount_cents, claim_id, n)
    ), found AS (SELECT n, account_id FROM w), """  # noqa: S608 (constant fragments)
    + _ENTRY_AND_LINES
)
# The lines' accounts by reference ($7 kinds, $8 owners), found in the same statement.
_POST_BY_REF = (
    """
    WITH w AS (
        SELECT * FROM unnest($7::text[], $8::uuid[], $9::text[], $10::bigint[], $11::uuid[])
            WITH ORDINALITY AS w (kind, owner_id, side, amount_cents, claim_id, n)
    ), found AS (
        SELECT w.n, a.id AS account_id
        FROM w JOIN ledger_accounts a ON a.owner_id = w.owner_id AND a.kind = w.kind
        UNION ALL
        SELECT w.n, a.id
        FROM w JOIN ledger_accounts a ON a.owner_id IS NULL AND a.kind = w.kind
        WHERE w.owner_id IS NULL
    ), """  # noqa: S608 (constant fragments)
    + _ENTRY_AND_LINES
)
_POSTED = """
    FROM e CROSS JOIN l JOIN ledger_accounts a ON a.id = l.account_id
    ORDER BY l.id
"""


def _entry(rows: Sequence[asyncpg.Record]) -> EntryOut | None:
    if not rows:
        return None
    head = {k: v for k, v in rows[0].items() if not k.startswith("line_")}
    lines = [{k[5:]: v for k, v in r.items() if k.startswith("line_")} for r in rows]
    return msgspec.convert(head | {"lines": lines}, EntryOut)


async def list_accounts(
    conn: asyncpg.Connection, kinds: list[str], owners: list[uuid.UUID | None]
) -> list[AccountRow]:
    """The accounts that exist among (kinds[i], owners[i])."""
    return to_structs(await conn.fetch(_ACCOUNTS, kinds, owners), AccountRow)


async def insert_accounts(
    conn: asyncpg.Connection, kinds: list[str], owners: list[uuid.UUID | None]
) -> list[AccountRow]:
    """Those of the accounts that this call created; the others existed or are being created.

    Rows go in a fixed order, so two transactions creating the same accounts wait for each
    other instead of deadlocking.
    """
    rows = await conn.fetch(
        """
        INSERT INTO ledger_accounts (kind, owner_id)
        SELECT kind, owner_id FROM unnest($1::text[], $2::uuid[]) AS w (kind, owner_id)
        ORDER BY owner_id NULLS FIRST, kind
        ON CONFLICT (owner_id, kind) DO NOTHING
        RETURNING id, kind, owner_id
        """,
        kinds,
        owners,
    )
    return to_structs(rows, AccountRow)


async def _post(
    conn: asyncpg.Connection,
    query: str,
    entry: EntryIn,
    occurred_at: datetime,
    accounts: tuple[list[Any], ...],
) -> EntryOut | None:
    rows = await conn.fetch(
        query + _ENTRY_LINES + _POSTED,
        entry.kind,
        entry.idempotency_key,
        occurred_at,
        entry.memo,
        entry.source_table,
        entry.source_id,
        *accounts,
        [line.side for line in entry.lines],
        [line.amount_cents for line in entry.lines],
        [line.claim_id for line in entry.lines],
    )
    return _entry(rows)


async def insert_entry(
    conn: asyncpg.Connection, entry: EntryIn, occurred_at: datetime, account_ids: list[int]
) -> EntryOut | None:
    """The entry and its lines; None when the idempotency key is taken.

    A concurrent transaction holding the same key makes this wait for its outcome.
    """
    return await _post(conn, _POST, entry, occurred_at, (account_ids,))


async def insert_entry_of_existing_accounts(
    conn: asyncpg.Connection, entry: EntryIn, occurred_at: datetime
) -> EntryOut | None:
    """insert_entry with the accounts read in the same statement; None when the key is taken
    or an account does not exist yet (nothing is written then)."""
    refs = [line.account for line in entry.lines]
    return await _post(
        conn, _POST_BY_REF, entry, occurred_at, ([r.kind for r in refs], [r.owner_id for r in refs])
    )


async def insert_entries(
    conn: asyncpg.Connection,
    entries: list[EntryIn],
    occurred_at: list[datetime],
    account_ids: list[list[int]],
) -> set[str]:
    """Many entries and their lines in one statement; the keys it inserted (a key already
    taken is skipped with its lines: the caller compares it with the first)."""
    lines = [(entry, line, account) for entry, accounts in zip(entries, account_ids, strict=True)
             for line, account in zip(entry.lines, accounts, strict=True)]  # fmt: skip
    rows = await conn.fetch(
        """
        WITH e AS (
            INSERT INTO journal_entries (kind, idempotency_key, occurred_at, memo,
                                         source_table, source_id)
            SELECT kind, key, at, memo, source_table, source_id
            FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                        $6::uuid[]) WITH ORDINALITY
                AS w (kind, key, at, memo, source_table, source_id, n)
            ORDER BY n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, idempotency_key
        ), l AS (
            INSERT INTO journal_lines (entry_id, account_id, side, amount_cents, claim_id)
            SELECT e.id, w.account_id, w.side, w.amount_cents, w.claim_id
            FROM unnest($7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::uuid[])
                WITH ORDINALITY AS w (key, account_id, side, amount_cents, claim_id, n)
            JOIN e ON e.idempotency_key = w.key
            ORDER BY w.n
        )
        SELECT idempotency_key FROM e
        """,
        [e.kind for e in entries], [e.idempotency_key for e in entries], occurred_at,
        [e.memo for e in entries], [e.source_table for e in entries],
        [e.source_id for e in entries], [e.idempotency_key for e, _, _ in lines],
        [account for _, _, account in lines], [line.side for _, line, _ in lines],
        [line.amount_cents for _, line, _ in lines], [line.claim_id for _, line, _ in lines],
    )  # fmt: skip
    return {r["idempotency_key"] for r in rows}


async def insert_pairs(
    conn: asyncpg.Connection, kind: str, source_table: str, memo: str, occurred_at: datetime,
    pairs: tuple[list[uuid.UUID], list[int], list[int], list[int]],
) -> set[uuid.UUID]:  # fmt: skip
    """Many two-line entries of one kind in one statement, each under the key `{kind}-{source}`:
    (source ids, debit account ids, credit account ids, cents). The sources whose entry it
    inserted (a key already taken is skipped with its lines: the caller compares)."""
    rows = await conn.fetch(
        """
        WITH w AS (
            SELECT * FROM unnest($5::uuid[], $6::bigint[], $7::bigint[], $8::bigint[])
                WITH ORDINALITY AS w (source_id, debit_id, credit_id, cents, n)
        ), e AS (
            INSERT INTO journal_entries (kind, idempotency_key, occurred_at, memo,
                                         source_table, source_id)
            SELECT $1, $1 || '-' || w.source_id, $4, $3, $2, w.source_id FROM w ORDER BY w.n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, source_id
        ), l AS (
            INSERT INTO journal_lines (entry_id, account_id, side, amount_cents)
            SELECT e.id, x.account_id, x.side, w.cents
            FROM w JOIN e ON e.source_id = w.source_id
            CROSS JOIN LATERAL (VALUES (w.debit_id, 'debit'), (w.credit_id, 'credit'))
                AS x (account_id, side)
            ORDER BY w.n, x.side DESC
        )
        SELECT source_id FROM e
        """,
        kind, source_table, memo, occurred_at, *pairs,
    )  # fmt: skip
    return {r["source_id"] for r in rows}


async def get_entry_by_key(conn: asyncpg.Connection, idempotency_key: str) -> EntryOut | None:
    rows = await conn.fetch(
        _ENTRY_LINES
        + """
        FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.idempotency_key = $1
        ORDER BY l.id
        """,
        idempotency_key,
    )
    return _entry(rows)


async def list_totals_of_accounts(
    conn: asyncpg.Connection, account_ids: list[int]
) -> list[AccountTotals]:
    rows = await conn.fetch(
        _TOTALS + " WHERE a.id = ANY ($1::bigint[])" + _TOTALS_ORDER, account_ids
    )
    return to_structs(rows, AccountTotals)


async def list_totals_of_owner(
    conn: asyncpg.Connection, owner_id: uuid.UUID
) -> list[AccountTotals]:
    rows = await conn.fetch(_TOTALS + " WHERE a.owner_id = $1" + _TOTALS_ORDER, owner_id)
    return to_structs(rows, AccountTotals)


async def list_totals(conn: asyncpg.Connection) -> list[AccountTotals]:
    """Every account's totals: the trial balance."""
    return to_structs(await conn.fetch(_TOTALS + _TOTALS_ORDER), AccountTotals)


async def get_claim_receivable(conn: asyncpg.Connection, claim_id: uuid.UUID) -> int:
    """Debits - credits of the payer_receivable lines that name the claim."""
    value: int = await conn.fetchval(
        """
        SELECT coalesce(sum(CASE l.side WHEN 'debit' THEN l.amount_cents
                                        ELSE -l.amount_cents END), 0)::bigint
        FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id
        WHERE l.claim_id = $1 AND a.kind = 'payer_receivable'
        """,
        claim_id,
    )
    return value


async def list_claim_receivables(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """get_claim_receivable of many claims (a claim with no line is left out)."""
    rows = await conn.fetch(
        """
        SELECT l.claim_id, sum(CASE l.side WHEN 'debit' THEN l.amount_cents
                                           ELSE -l.amount_cents END)::bigint AS net_cents
        FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id
        WHERE l.claim_id = ANY ($1::uuid[]) AND a.kind = 'payer_receivable'
        GROUP BY l.claim_id
        """,
        claim_ids,
    )
    return {r["claim_id"]: r["net_cents"] for r in rows}


async def list_sources_nets(
    conn: asyncpg.Connection, source_table: str, source_ids: list[uuid.UUID], kinds: list[str]
) -> list[tuple[uuid.UUID, str, uuid.UUID | None, uuid.UUID | None, int]]:
    """list_source_nets of many rows of one table, each row's lines led by its id."""
    rows = await conn.fetch(
        """
        SELECT e.source_id, a.kind, a.owner_id, l.claim_id,
               sum(CASE l.side WHEN 'debit' THEN l.amount_cents
                               ELSE -l.amount_cents END)::bigint AS net_cents
        FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.source_table = $1 AND e.source_id = ANY ($2::uuid[])
          AND e.kind = ANY ($3::text[])
        GROUP BY e.source_id, a.kind, a.owner_id, l.claim_id
        """,
        source_table,
        source_ids,
        kinds,
    )
    return [(r["source_id"], r["kind"], r["owner_id"], r["claim_id"], r["net_cents"]) for r in rows]


async def list_source_nets(
    conn: asyncpg.Connection, source_table: str, source_id: uuid.UUID, kinds: list[str]
) -> list[tuple[str, uuid.UUID | None, uuid.UUID | None, int]]:
    """Per account and claim, debits - credits of the entries of these kinds one row caused."""
    rows = await conn.fetch(
        """
        SELECT a.kind, a.owner_id, l.claim_id,
               sum(CASE l.side WHEN 'debit' THEN l.amount_cents
                               ELSE -l.amount_cents END)::bigint AS net_cents
        FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE e.source_table = $1 AND e.source_id = $2 AND e.kind = ANY ($3::text[])
        GROUP BY a.kind, a.owner_id, l.claim_id
        """,
        source_table,
        source_id,
        kinds,
    )
    return [(r["kind"], r["owner_id"], r["claim_id"], r["net_cents"]) for r in rows]
