"""SQL for benefit checks, their context and the plans' out-of-network rates.

Foreign tables read: insurance_policies, clients and payers (a 270's context in one read, and
a check's payer); client_providers (the caller's scope: which providers see a client);
providers (a provider receiver's NPI and name); therapy_sessions (which upcoming sessions are
due a re-check).
"""

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
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

_CHECK = """
    SELECT b.id, b.policy_id, b.client_id, b.provider_id, p.payer_id, b.service_date, b.status,
           b.benefits, b.requested_at, b.completed_at, b.duration_ms, b.created_at
    FROM benefit_checks b JOIN insurance_policies p ON p.id = b.policy_id
"""
# The caller's scope (services.core.scope) as $1 provider, $2 client, over the policy `p` whose
# client it is: ops, the client, or a provider who sees the client (client_providers).
_IN_SCOPE = """
    ($1::uuid IS NULL OR p.client_id = $2
     OR EXISTS (SELECT 1 FROM client_providers r
                WHERE r.provider_id = $1 AND r.client_id = p.client_id))
"""


async def get_check_context(
    conn: asyncpg.Connection, policy_id: uuid.UUID, scope: Scope
) -> CheckContextRow | None:
    """The policy, its client and payer, if the policy is in the caller's scope."""
    row = await conn.fetchrow(
        """
        SELECT p.id AS policy_id, p.client_id, p.payer_id, y.name AS payer_name,
               y.x12_payer_id, p.member_id, p.relationship, p.patient_member_id,
               p.subscriber_first_name, p.subscriber_last_name, p.subscriber_date_of_birth,
               p.subscriber_sex, c.first_name, c.last_name, c.date_of_birth, c.sex
        FROM insurance_policies p
        JOIN clients c ON c.id = p.client_id
        JOIN payers y ON y.id = p.payer_id
        WHERE p.id = $3 AND"""  # noqa: S608 (constants)
        + _IN_SCOPE,
        *scope,
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


async def get_last_requested_at(conn: asyncpg.Connection, policy_id: uuid.UUID) -> datetime | None:
    """When the payer was last asked about this policy (any receiver, any outcome)."""
    last: datetime | None = await conn.fetchval(
        "SELECT max(requested_at) FROM benefit_checks WHERE policy_id = $1", policy_id
    )
    return last


async def list_due_rechecks(
    conn: asyncpg.Connection, start: datetime, horizon_days: int, month_start: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(policy, provider) of each scheduled session from `start` within the horizon whose pair
    has no answered check since `month_start`."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT s.policy_id, s.provider_id
        FROM therapy_sessions s
        WHERE s.status = 'scheduled' AND s.policy_id IS NOT NULL
          AND s.starts_at >= $1 AND s.starts_at < $1 + make_interval(days => $2)
          AND NOT EXISTS (
              SELECT 1 FROM benefit_checks b
              WHERE b.policy_id = s.policy_id AND b.provider_id = s.provider_id
                AND b.status IN ('active', 'inactive', 'rejected', 'unknown')
                AND b.completed_at >= $3
          )
        """,
        start,
        horizon_days,
        month_start,
    )
    return [(row["policy_id"], row["provider_id"]) for row in rows]


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


async def get_latest_check_for(
    conn: asyncpg.Connection, policy_id: uuid.UUID, provider_id: uuid.UUID, since: datetime
) -> BenefitCheckRow | None:
    """The provider's latest answered check of the policy, else the latest asked without a
    provider: get_latest_check twice in one statement (a policy has few checks to sort)."""
    row = await conn.fetchrow(
        _CHECK
        + """
        WHERE b.policy_id = $1 AND (b.provider_id = $2 OR b.provider_id IS NULL)
          AND b.completed_at >= $3
          AND b.status IN ('active', 'inactive', 'rejected', 'unknown')
        ORDER BY b.provider_id IS NULL, b.completed_at DESC LIMIT 1
        """,
        policy_id,
        provider_id,
        since,
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
    row = await conn.fetchrow(
        """
        WITH b AS (
            INSERT INTO benefit_checks (policy_id, client_id, provider_id, service_date, trace,
                payload_id, status, benefits, request_x12, response_x12, requested_by,
                requested_at, completed_at, duration_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            RETURNING id, policy_id, client_id, provider_id, service_date, status, benefits,
                requested_at, completed_at, duration_ms, created_at
        ), """  # noqa: S608 (core's constant audit CTE)
        + audit.create_rows("b", 15)
        + """
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
        *audit.create_args("benefit_check", audited_by),
    )
    return one(row, BenefitCheckRow)


async def get_check(
    conn: asyncpg.Connection, check_id: uuid.UUID, scope: Scope
) -> BenefitCheckRow | None:
    row = await conn.fetchrow(_CHECK + " WHERE b.id = $3 AND" + _IN_SCOPE, *scope, check_id)
    return to_struct(row, BenefitCheckRow)


async def get_check_x12(conn: asyncpg.Connection, check_id: uuid.UUID) -> BenefitCheckX12Out:
    row = await conn.fetchrow(
        "SELECT id, request_x12, response_x12 FROM benefit_checks WHERE id = $1", check_id
    )
    return one(row, BenefitCheckX12Out)


async def list_checks(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    scope: Scope,
    after: After | None,
    limit: int,
) -> list[BenefitCheckRow]:
    """A client's checks in the caller's scope, newest first, keyset-paged on (created_at, id)."""
    query = _CHECK + " WHERE" + _IN_SCOPE + "  AND b.client_id = $3"
    return await fetch_page(
        conn,
        BenefitCheckRow,
        query,
        *scope,
        client_id,
        after=after,
        limit=limit,
        alias="b",
        newest_first=True,
    )


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
