"""SQL for benefit checks, their context and the plans' out-of-network rates."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg
import msgspec

from schemas.benefit_checks import (
    BenefitCheckRow,
    BenefitCheckX12Out,
    CheckContextRow,
    OutOfNetworkRateOut,
)
from schemas.eligibility import Benefits
from services.core import audit
from services.core.db import one, to_struct, to_structs

_CHECK = """
    SELECT b.id, b.policy_id, b.client_id, b.provider_id, p.payer_id, b.service_date, b.status,
           b.benefits, b.requested_at, b.completed_at, b.duration_ms, b.created_at
    FROM benefit_checks b JOIN insurance_policies p ON p.id = b.policy_id
"""


async def get_check_context(
    conn: asyncpg.Connection, policy_id: uuid.UUID
) -> CheckContextRow | None:
    row = await conn.fetchrow(
        """
        SELECT p.id AS policy_id, p.client_id, p.payer_id, y.name AS payer_name,
               y.x12_payer_id, p.member_id, p.relationship, p.patient_member_id,
               p.subscriber_first_name, p.subscriber_last_name, p.subscriber_date_of_birth,
               p.subscriber_sex, c.first_name, c.last_name, c.date_of_birth, c.sex
        FROM insurance_policies p
        JOIN clients c ON c.id = p.client_id
        JOIN payers y ON y.id = p.payer_id
        WHERE p.id = $1
        """,
        policy_id,
    )
    return to_struct(row, CheckContextRow)


async def get_provider_receiver(
    conn: asyncpg.Connection, provider_id: uuid.UUID
) -> tuple[str, str, str] | None:
    """(NPI, last name, first name) of the provider a check is for."""
    row = await conn.fetchrow(
        "SELECT npi, last_name, first_name FROM providers WHERE id = $1", provider_id
    )
    return None if row is None else (row["npi"], row["last_name"], row["first_name"])


async def has_booking(
    conn: asyncpg.Connection, provider_id: uuid.UUID, client_id: uuid.UUID
) -> bool:
    """Whether the provider has a session (booked, held or confirmed) with the client."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM therapy_sessions WHERE provider_id = $1 AND client_id = $2"
        " AND status <> 'cancelled')",
        provider_id,
        client_id,
    )
    return found


async def get_last_requested_at(conn: asyncpg.Connection, policy_id: uuid.UUID) -> datetime | None:
    """When the payer was last asked about this policy (any receiver, any outcome)."""
    last: datetime | None = await conn.fetchval(
        "SELECT max(requested_at) FROM benefit_checks WHERE policy_id = $1", policy_id
    )
    return last


async def next_control_numbers(conn: asyncpg.Connection) -> tuple[int, int]:
    """Fresh ISA13 and GS06, unique and increasing across every file Hearth writes."""
    row = await conn.fetchrow(
        "SELECT nextval('x12_interchange_control') AS isa, nextval('x12_group_control') AS gs"
    )
    assert row is not None
    return int(row["isa"]), int(row["gs"])


async def get_latest_check(
    conn: asyncpg.Connection,
    policy_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    since: datetime,
    statuses: tuple[str, ...] = ("active", "inactive", "rejected", "unknown"),
) -> BenefitCheckRow | None:
    row = await conn.fetchrow(
        _CHECK
        + """
        WHERE b.policy_id = $1 AND b.provider_id IS NOT DISTINCT FROM $2
          AND b.completed_at >= $3 AND b.status = ANY($4::text[])
        ORDER BY b.completed_at DESC LIMIT 1
        """,
        policy_id,
        provider_id,
        since,
        list(statuses),
    )
    return to_struct(row, BenefitCheckRow)


async def insert_check(
    conn: asyncpg.Connection,
    *,
    policy_id: uuid.UUID,
    client_id: uuid.UUID,
    provider_id: uuid.UUID | None,
    service_date: date,
    trace: str,
    payload_id: uuid.UUID,
    status: str,
    benefits: Benefits,
    request_x12: str,
    response_x12: str,
    requested_by: uuid.UUID | None,
    requested_at: datetime,
    completed_at: datetime,
    duration_ms: int,
    audited_by: audit.Author | None = None,
) -> BenefitCheckRow:
    """The stored check as get_check reads it, from the same statement (no second read).

    `audited_by` (audit.author()): the same statement writes the check's "create" audit row,
    so the two are stored together without a transaction around them.
    """
    author_id, author_role, request_id = audited_by or (None, "system", None)
    row = await conn.fetchrow(
        """
        WITH b AS (
            INSERT INTO benefit_checks (policy_id, client_id, provider_id, service_date, trace,
                payload_id, status, benefits, request_x12, response_x12, requested_by,
                requested_at, completed_at, duration_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            RETURNING id, policy_id, client_id, provider_id, service_date, status, benefits,
                requested_at, completed_at, duration_ms, created_at
        ), a AS (
            INSERT INTO audit_events (actor_user_id, actor_role, action, entity, entity_id,
                request_id)
            SELECT $15, $16, 'create', 'benefit_check', b.id, $17 FROM b WHERE $18
        )
        SELECT b.id, b.policy_id, b.client_id, b.provider_id, p.payer_id, b.service_date,
               b.status, b.benefits, b.requested_at, b.completed_at, b.duration_ms, b.created_at
        FROM b JOIN insurance_policies p ON p.id = b.policy_id
        """,
        policy_id,
        client_id,
        provider_id,
        service_date,
        trace,
        payload_id,
        status,
        msgspec.to_builtins(benefits),
        request_x12,
        response_x12,
        requested_by,
        requested_at,
        completed_at,
        duration_ms,
        author_id,
        author_role,
        request_id,
        audited_by is not None,
    )
    return one(row, BenefitCheckRow)


async def get_check(conn: asyncpg.Connection, check_id: uuid.UUID) -> BenefitCheckRow | None:
    return to_struct(await conn.fetchrow(_CHECK + " WHERE b.id = $1", check_id), BenefitCheckRow)


async def get_check_x12(conn: asyncpg.Connection, check_id: uuid.UUID) -> BenefitCheckX12Out:
    row = await conn.fetchrow(
        "SELECT id, request_x12, response_x12 FROM benefit_checks WHERE id = $1", check_id
    )
    return one(row, BenefitCheckX12Out)


async def list_checks(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[BenefitCheckRow]:
    """A client's checks, newest first, keyset-paged on (created_at, id)."""
    after_at, after_id = after if after else (None, None)
    rows = await conn.fetch(
        _CHECK
        + """
        WHERE b.client_id = $1
          AND ($2::timestamptz IS NULL OR (b.created_at, b.id) < ($2, $3))
        ORDER BY b.created_at DESC, b.id DESC LIMIT $4
        """,
        client_id,
        after_at,
        after_id,
        limit + 1,
    )
    return to_structs(rows, BenefitCheckRow)


async def upsert_oon_rate(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID,
    cpt_code: str,
    allowed_cents: int,
    updated_by: uuid.UUID,
) -> OutOfNetworkRateOut:
    row = await conn.fetchrow(
        """
        INSERT INTO payer_out_of_network_rates (payer_id, cpt_code, allowed_cents, updated_by)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (payer_id, cpt_code) DO UPDATE
            SET allowed_cents = EXCLUDED.allowed_cents, updated_by = EXCLUDED.updated_by,
                updated_at = now()
        RETURNING payer_id, cpt_code, allowed_cents, updated_at, updated_by
        """,
        payer_id,
        cpt_code,
        allowed_cents,
        updated_by,
    )
    return one(row, OutOfNetworkRateOut)


async def list_oon_rates(
    conn: asyncpg.Connection, payer_id: uuid.UUID
) -> list[OutOfNetworkRateOut]:
    rows = await conn.fetch(
        """
        SELECT payer_id, cpt_code, allowed_cents, updated_at, updated_by
        FROM payer_out_of_network_rates WHERE payer_id = $1 ORDER BY cpt_code
        """,
        payer_id,
    )
    return to_structs(rows, OutOfNetworkRateOut)


async def get_oon_rate(conn: asyncpg.Connection, payer_id: uuid.UUID, cpt_code: str) -> int | None:
    allowed: int | None = await conn.fetchval(
        "SELECT allowed_cents FROM payer_out_of_network_rates"
        " WHERE payer_id = $1 AND cpt_code = $2",
        payer_id,
        cpt_code,
    )
    return allowed
