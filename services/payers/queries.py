"""SQL for payers, fee schedule keys and fee schedules."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from schemas.payers import FeeScheduleOut, FeeScheduleRate, PayerOut
from services.core.db import one, to_struct
from services.core.pagination import After, fetch_page

_PAYER = """
    SELECT id, name, x12_payer_id, timely_filing_days, telehealth_modifier,
           prior_auth_cpt_codes, claim_filing_indicator, appeal_window_days, created_at,
           updated_at
    FROM payers
"""
# `valid` is stored canonical [from, to + 1): the API speaks inclusive dates.
_FEE = """
    SELECT s.id, k.payer_id, k.cpt_code, NULLIF(k.modifier, '') AS modifier,
           s.provider_rate_cents, s.allowed_cents, s.created_at, s.created_by,
           s.ended_at, s.ended_by, lower(s.valid) AS effective_from,
           CASE WHEN upper_inf(s.valid) THEN NULL ELSE upper(s.valid) - 1 END AS effective_to
    FROM fee_schedules s JOIN fee_schedule_keys k ON k.id = s.key_id
"""


async def insert_payer(
    conn: asyncpg.Connection,
    name: str,
    x12_payer_id: str,
    timely_filing_days: int,
    telehealth_modifier: str | None,
    prior_auth_cpt_codes: list[str],
    claim_filing_indicator: str,
    appeal_window_days: int,
) -> PayerOut | None:
    """None when the X12 payer id is taken."""
    row = await conn.fetchrow(
        """
        INSERT INTO payers (name, x12_payer_id, timely_filing_days, telehealth_modifier,
                            prior_auth_cpt_codes, claim_filing_indicator, appeal_window_days)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (x12_payer_id) DO NOTHING
        RETURNING id, name, x12_payer_id, timely_filing_days, telehealth_modifier,
                  prior_auth_cpt_codes, claim_filing_indicator, appeal_window_days, created_at,
                  updated_at
        """,
        name,
        x12_payer_id,
        timely_filing_days,
        telehealth_modifier,
        prior_auth_cpt_codes,
        claim_filing_indicator,
        appeal_window_days,
    )
    return to_struct(row, PayerOut)


async def get_payer(conn: asyncpg.Connection, payer_id: uuid.UUID) -> PayerOut | None:
    return to_struct(await conn.fetchrow(_PAYER + " WHERE id = $1", payer_id), PayerOut)


async def lock_payer(conn: asyncpg.Connection, payer_id: uuid.UUID) -> PayerOut | None:
    return to_struct(await conn.fetchrow(_PAYER + " WHERE id = $1 FOR UPDATE", payer_id), PayerOut)


async def update_payer(conn: asyncpg.Connection, payer: PayerOut) -> PayerOut:
    """Raises asyncpg.UniqueViolationError when the new X12 payer id is taken."""
    row = await conn.fetchrow(
        """
        UPDATE payers
        SET name = $2, x12_payer_id = $3, timely_filing_days = $4, telehealth_modifier = $5,
            prior_auth_cpt_codes = $6, claim_filing_indicator = $7, appeal_window_days = $8,
            updated_at = now()
        WHERE id = $1
        RETURNING id, name, x12_payer_id, timely_filing_days, telehealth_modifier,
                  prior_auth_cpt_codes, claim_filing_indicator, appeal_window_days, created_at,
                  updated_at
        """,
        payer.id,
        payer.name,
        payer.x12_payer_id,
        payer.timely_filing_days,
        payer.telehealth_modifier,
        payer.prior_auth_cpt_codes,
        payer.claim_filing_indicator,
        payer.appeal_window_days,
    )
    return one(row, PayerOut)


async def list_payers(
    conn: asyncpg.Connection,
    name_contains: str | None,
    after: After | None,
    limit: int,
) -> list[PayerOut]:
    query = _PAYER + " WHERE ($1::text IS NULL OR strpos(lower(name), lower($1)) > 0)"
    return await fetch_page(conn, PayerOut, query, name_contains, after=after, limit=limit)


async def insert_fee_schedule_key(
    conn: asyncpg.Connection, payer_id: uuid.UUID, cpt_code: str, modifier: str
) -> None:
    await conn.execute(
        """
        INSERT INTO fee_schedule_keys (payer_id, cpt_code, modifier) VALUES ($1, $2, $3)
        ON CONFLICT (payer_id, cpt_code, modifier) DO NOTHING
        """,
        payer_id,
        cpt_code,
        modifier,
    )


async def lock_fee_schedule_key(
    conn: asyncpg.Connection, payer_id: uuid.UUID, cpt_code: str, modifier: str
) -> int | None:
    key_id: int | None = await conn.fetchval(
        """
        SELECT id FROM fee_schedule_keys
        WHERE payer_id = $1 AND cpt_code = $2 AND modifier = $3
        FOR UPDATE
        """,
        payer_id,
        cpt_code,
        modifier,
    )
    return key_id


async def get_overlapping_fee_schedule(
    conn: asyncpg.Connection, key_id: int, effective_from: date, effective_to: date | None
) -> FeeScheduleOut | None:
    row = await conn.fetchrow(
        _FEE
        + """
        WHERE s.key_id = $1 AND s.valid && daterange($2::date, $3::date, '[]')
        ORDER BY lower(s.valid)
        LIMIT 1
        """,
        key_id,
        effective_from,
        effective_to,
    )
    return to_struct(row, FeeScheduleOut)


async def insert_fee_schedule(
    conn: asyncpg.Connection,
    key_id: int,
    effective_from: date,
    effective_to: date | None,
    allowed_cents: int,
    provider_rate_cents: int,
    created_by: uuid.UUID,
) -> uuid.UUID:
    """Raises asyncpg.ExclusionViolationError when the range overlaps another of the key."""
    fee_schedule_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO fee_schedules (key_id, valid, allowed_cents, provider_rate_cents, created_by)
        VALUES ($1, daterange($2::date, $3::date, '[]'), $4, $5, $6)
        RETURNING id
        """,
        key_id,
        effective_from,
        effective_to,
        allowed_cents,
        provider_rate_cents,
        created_by,
    )
    return fee_schedule_id


async def get_fee_schedule(
    conn: asyncpg.Connection, payer_id: uuid.UUID, fee_schedule_id: uuid.UUID
) -> FeeScheduleOut | None:
    row = await conn.fetchrow(
        _FEE + " WHERE s.id = $1 AND k.payer_id = $2", fee_schedule_id, payer_id
    )
    return to_struct(row, FeeScheduleOut)


async def lock_fee_schedule(
    conn: asyncpg.Connection, payer_id: uuid.UUID, fee_schedule_id: uuid.UUID
) -> FeeScheduleOut | None:
    row = await conn.fetchrow(
        _FEE + " WHERE s.id = $1 AND k.payer_id = $2 FOR UPDATE OF s", fee_schedule_id, payer_id
    )
    return to_struct(row, FeeScheduleOut)


async def update_end_fee_schedule(
    conn: asyncpg.Connection, fee_schedule_id: uuid.UUID, effective_to: date, ended_by: uuid.UUID
) -> None:
    await conn.execute(
        """
        UPDATE fee_schedules
        SET valid = daterange(lower(valid), $2::date, '[]'), ended_at = now(), ended_by = $3
        WHERE id = $1
        """,
        fee_schedule_id,
        effective_to,
        ended_by,
    )


async def list_fee_schedules(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID,
    cpt_code: str | None,
    as_of: date | None,
    after: After | None,
    limit: int,
) -> list[FeeScheduleOut]:
    query = (
        _FEE
        + """
        WHERE k.payer_id = $1
          AND ($2::text IS NULL OR k.cpt_code = $2)
          AND ($3::date IS NULL OR s.valid @> $3::date)
        """
    )
    return await fetch_page(
        conn, FeeScheduleOut, query, payer_id, cpt_code, as_of, after=after, limit=limit, alias="s"
    )


async def get_rate(
    conn: asyncpg.Connection, payer_id: uuid.UUID, cpt_code: str, modifier: str, on: date
) -> FeeScheduleRate | None:
    """The exact modifier's row covering `on`, else the no-modifier row covering `on`."""
    row = await conn.fetchrow(
        """
        SELECT s.id AS fee_schedule_id, k.payer_id, k.cpt_code, k.modifier,
               s.allowed_cents, s.provider_rate_cents, lower(s.valid) AS effective_from,
               CASE WHEN upper_inf(s.valid) THEN NULL ELSE upper(s.valid) - 1 END AS effective_to
        FROM fee_schedule_keys k JOIN fee_schedules s ON s.key_id = k.id
        WHERE k.payer_id = $1 AND k.cpt_code = $2 AND k.modifier IN ($3, '')
          AND s.valid @> $4::date
        ORDER BY k.modifier = $3 DESC
        LIMIT 1
        """,
        payer_id,
        cpt_code,
        modifier,
        on,
    )
    return to_struct(row, FeeScheduleRate)
