"""The SQL of superbills. Writes superbill_preferences and superbill_emails.

Reads other domains' tables, one query rather than one per domain: therapy_sessions and
therapy_session_lines (what was done), claims (a session with one was billed in network: no
superbill), the ledger's ledger_accounts, journal_entries and journal_lines (what the session
was billed at: its entries on the client_receivable), payments' client_charges and
client_refunds (what the card paid for it), providers and provider_locations (who rendered it,
where), insurance_policies and payers (the client's plan).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from services.core.db import to_structs
from services.core.scope import Scope


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    policy_id: uuid.UUID | None
    started_at: datetime
    service_date: date
    place_of_service: str
    diagnosis_codes: list[str]
    charged_cents: int
    paid_cents: int


# Confirmed, no claim, and billed at the self-pay rate: never held for ops, or held and
# settled as self-pay ($1: the statement time zone, for the date of service).
_SESSIONS = """
SELECT s.id, s.provider_id, s.client_id, s.policy_id, s.started_at,
       (s.started_at AT TIME ZONE $1::text)::date AS service_date, s.place_of_service,
       s.diagnosis_codes,
       coalesce((SELECT sum(CASE WHEN l.side = 'debit' THEN l.amount_cents
                                 ELSE -l.amount_cents END)
                 FROM journal_entries e
                 JOIN journal_lines l ON l.entry_id = e.id
                 JOIN ledger_accounts a ON a.id = l.account_id
                 WHERE e.source_table = 'therapy_sessions' AND e.source_id = s.id
                   AND a.kind = 'client_receivable'), 0)::bigint AS charged_cents,
       (coalesce((SELECT sum(ch.amount_cents) FROM client_charges ch
                  WHERE ch.source_table = 'therapy_sessions' AND ch.source_id = s.id
                    AND ch.status = 'succeeded'), 0)
        - coalesce((SELECT sum(r.amount_cents) FROM client_refunds r
                    JOIN client_charges ch ON ch.id = r.charge_id
                    WHERE ch.source_table = 'therapy_sessions' AND ch.source_id = s.id
                      AND r.status = 'succeeded'), 0))::bigint AS paid_cents
FROM therapy_sessions s
WHERE s.status = 'confirmed'
  AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.therapy_session_id = s.id)
  AND (s.billing_hold IS NULL OR s.billing_settlement = 'self_pay')"""


async def get_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, tz: str
) -> SessionRow | None:
    """The session, when it has a superbill."""
    row = await conn.fetchrow(_SESSIONS + " AND s.id = $2", tz, session_id)
    return None if row is None else msgspec.convert(dict(row), SessionRow)


async def list_month_sessions(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    bounds: tuple[datetime, datetime],
    tz: str,
) -> list[SessionRow]:
    """The client's sessions with a superbill that started in [start, end), oldest first
    (only `provider_id`'s when given)."""
    rows = await conn.fetch(
        _SESSIONS + """
          AND s.client_id = $2 AND ($3::uuid IS NULL OR s.provider_id = $3)
          AND s.started_at >= $4 AND s.started_at < $5
        ORDER BY s.started_at, s.id""",
        tz, client_id, provider_id, *bounds,
    )  # fmt: skip
    return to_structs(rows, SessionRow)


class SessionState(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    has_claim: bool
    billing_hold: str | None
    billing_settlement: str | None


async def get_session_state(
    conn: asyncpg.Connection, session_id: uuid.UUID, scope: Scope
) -> SessionState | None:
    """Why a session in the caller's scope has no superbill; None: unknown or not theirs."""
    row = await conn.fetchrow(
        """
        SELECT s.status, s.billing_hold, s.billing_settlement,
               EXISTS (SELECT 1 FROM claims c WHERE c.therapy_session_id = s.id) AS has_claim
        FROM therapy_sessions s
        WHERE s.id = $1 AND ($2::uuid IS NULL OR s.provider_id = $2 OR s.client_id = $3)
        """,
        session_id,
        *scope,
    )
    return None if row is None else msgspec.convert(dict(row), SessionState)


class LineRow(msgspec.Struct, frozen=True, kw_only=True):
    therapy_session_id: uuid.UUID
    line_number: int
    cpt_code: str
    modifiers: list[str]
    diagnosis_pointers: list[int]


async def list_lines(conn: asyncpg.Connection, session_ids: list[uuid.UUID]) -> list[LineRow]:
    rows = await conn.fetch(
        """
        SELECT therapy_session_id, line_number, cpt_code, modifiers, diagnosis_pointers
        FROM therapy_session_lines WHERE therapy_session_id = ANY ($1::uuid[])
        ORDER BY therapy_session_id, line_number
        """,
        session_ids,
    )
    return to_structs(rows, LineRow)


class ProviderRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    first_name: str
    last_name: str
    npi: str
    taxonomy_code: str
    tax_id_last4: str
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    zip: str | None


async def list_providers(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[ProviderRow]:
    """The providers, each with their office's address (an office first, then any location
    with an address, the oldest of those)."""
    rows = await conn.fetch(
        """
        SELECT p.id, p.first_name, p.last_name, p.npi, p.taxonomy_code, p.tax_id_last4,
               loc.address_line1, loc.address_line2, loc.city, loc.state, loc.zip
        FROM providers p
        LEFT JOIN LATERAL (
            SELECT address_line1, address_line2, city, state, zip FROM provider_locations
            WHERE provider_id = p.id AND address_line1 IS NOT NULL
            ORDER BY place_of_service = '11' DESC, created_at, id LIMIT 1
        ) loc ON true
        WHERE p.id = ANY ($1::uuid[])
        ORDER BY p.last_name, p.first_name, p.id
        """,
        ids,
    )
    return to_structs(rows, ProviderRow)


async def get_plan(conn: asyncpg.Connection, policy_id: uuid.UUID) -> tuple[str, str] | None:
    """The policy's payer name and the patient's member id (their own when a dependant has
    one, else the subscriber's)."""
    row = await conn.fetchrow(
        """
        SELECT py.name, coalesce(ip.patient_member_id, ip.member_id) AS member_id
        FROM insurance_policies ip JOIN payers py ON py.id = ip.payer_id
        WHERE ip.id = $1
        """,
        policy_id,
    )
    return None if row is None else (row["name"], row["member_id"])


async def get_preferences(
    conn: asyncpg.Connection, client_id: uuid.UUID
) -> tuple[bool, datetime] | None:
    row = await conn.fetchrow(
        "SELECT monthly_email, updated_at FROM superbill_preferences WHERE client_id = $1",
        client_id,
    )
    return None if row is None else (row["monthly_email"], row["updated_at"])


async def upsert_preferences(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    monthly_email: bool,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO superbill_preferences (client_id, monthly_email, updated_at, updated_by)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (client_id) DO UPDATE
        SET monthly_email = EXCLUDED.monthly_email, updated_at = EXCLUDED.updated_at,
            updated_by = EXCLUDED.updated_by
        """,
        client_id,
        monthly_email,
        now,
        user_id,
    )


async def list_opted_in_with_sessions(
    conn: asyncpg.Connection, start: datetime, end: datetime, tz: str
) -> list[uuid.UUID]:
    """Opted-in clients with a session that has a superbill in [start, end)."""
    rows = await conn.fetch(
        _SESSIONS + """
          AND s.started_at >= $2 AND s.started_at < $3
          AND EXISTS (SELECT 1 FROM superbill_preferences sp
                      WHERE sp.client_id = s.client_id AND sp.monthly_email)""",  # noqa: S608 (constants)
        tz, start, end,
    )  # fmt: skip
    return sorted({r["client_id"] for r in rows})


async def insert_emails(
    conn: asyncpg.Connection, client_ids: list[uuid.UUID], month: date, now: datetime
) -> list[uuid.UUID]:
    """The month's superbill queued for each client not queued before; those newly queued."""
    rows = await conn.fetch(
        """
        INSERT INTO superbill_emails (client_id, month, queued_at)
        SELECT unnest($1::uuid[]), $2, $3
        ON CONFLICT (client_id, month) DO NOTHING RETURNING client_id
        """,
        client_ids,
        month,
        now,
    )
    return [r["client_id"] for r in rows]
