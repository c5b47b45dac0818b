"""A payout's statement lines with what they concern: payout_lines (payouts' own) read with
the journal entry each covers (journal_entries: its kind, source, memo and date) and the
session it names: directly (therapy_sessions' entries), through its claim (claims' entries) or
through the claim an 835 remitted (remitted_claims' entries, recoupments among them);
therapy_session_lines for its CPT codes, clients for the initials only, providers for the name
on the statement, payouts for a reversed transfer's run date."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import msgspec

from services.core.db import to_structs


class StatementLineRow(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: int
    kind: str  # the journal entry's kind
    source_table: str
    reason: str  # the entry's memo
    amount_cents: int
    entry_date: date  # in the statement time zone
    session_id: uuid.UUID | None  # None: a session we do not know of (or none at all)
    service_date: date | None
    client_initials: str | None
    cpt_codes: list[str]
    reversed_run_date: date | None  # transfer_reversed: the run date of the payout reversed


_LINES = """
WITH lines AS (
    SELECT pl.entry_id, e.kind, e.source_table, e.source_id, e.memo AS reason, pl.amount_cents,
           e.occurred_at,
           CASE e.source_table
               WHEN 'therapy_sessions' THEN e.source_id
               WHEN 'claims' THEN (SELECT c.therapy_session_id FROM claims c
                                   WHERE c.id = e.source_id)
               WHEN 'remitted_claims' THEN (SELECT c.therapy_session_id FROM remitted_claims rc
                                            JOIN claims c ON c.id = rc.claim_id
                                            WHERE rc.id = e.source_id)
           END AS session_id
    FROM payouts p
    JOIN payout_lines pl ON pl.provider_id = p.provider_id AND pl.payout_id = p.id
    JOIN journal_entries e ON e.id = pl.entry_id
    WHERE p.id = $1
)
SELECT l.entry_id, l.kind, l.source_table, l.reason, l.amount_cents,
       (l.occurred_at AT TIME ZONE $2::text)::date AS entry_date,
       s.id AS session_id,
       (coalesce(s.started_at, s.starts_at) AT TIME ZONE $2::text)::date AS service_date,
       CASE WHEN cl.id IS NOT NULL
            THEN upper(left(cl.first_name, 1)) || '.' || upper(left(cl.last_name, 1)) || '.'
       END AS client_initials,
       coalesce((SELECT array_agg(sl.cpt_code ORDER BY sl.line_number)
                 FROM therapy_session_lines sl WHERE sl.therapy_session_id = s.id),
                '{}') AS cpt_codes,
       (SELECT p.run_date FROM payouts p
        WHERE l.source_table = 'payouts' AND p.id = l.source_id) AS reversed_run_date
FROM lines l
LEFT JOIN therapy_sessions s ON s.id = l.session_id
LEFT JOIN clients cl ON cl.id = s.client_id
ORDER BY l.occurred_at, l.entry_id
"""


async def list_statement_lines(
    conn: asyncpg.Connection, payout_id: uuid.UUID, time_zone: str
) -> list[StatementLineRow]:
    """The payout's lines in the order they were booked, each with its session's facts."""
    return to_structs(await conn.fetch(_LINES, payout_id, time_zone), StatementLineRow)


async def get_provider_name(conn: asyncpg.Connection, provider_id: uuid.UUID) -> str:
    name: str | None = await conn.fetchval(
        "SELECT first_name || ' ' || last_name FROM providers WHERE id = $1", provider_id
    )
    return name or ""
