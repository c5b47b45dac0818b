"""Actors with real users behind them, payers and fee schedules for the payers tests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest

from schemas.payers import FeeScheduleIn, FeeScheduleOut, PayerIn, PayerOut
from services.core.auth import Actor
from services.payers import service


async def make_actor(conn: asyncpg.Connection, role: str) -> Actor:
    """A user of `role`, with its provider or client profile row when the role has one."""
    user_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO users (email, role) VALUES ($1, $2) RETURNING id",
        f"{role}-{uuid.uuid4().hex[:10]}@example.test",
        role,
    )
    if role == "provider":
        provider_id = await conn.fetchval(
            """
            INSERT INTO providers (user_id, first_name, last_name, npi, taxonomy_code,
                                   tax_id_encrypted, tax_id_key_id, tax_id_last4)
            VALUES ($1, 'Pat', 'Provider', $2, '101YM0800X', '\\x00', 'k1', '6789')
            RETURNING id
            """,
            user_id,
            "1" + str(uuid.uuid4().int)[:9],
        )
        return Actor(user_id=user_id, role="provider", provider_id=provider_id)
    if role == "client":
        client_id = await conn.fetchval(
            """
            INSERT INTO clients (user_id, first_name, last_name, date_of_birth, sex,
                                 address_line1, city, state, zip, email)
            VALUES ($1, 'Cam', 'Client', '1990-01-01', 'U', '1 Main St', 'Boston', 'MA',
                    '02110', 'c@example.test')
            RETURNING id
            """,
            user_id,
        )
        return Actor(user_id=user_id, role="client", client_id=client_id)
    return Actor(user_id=user_id, role="ops")


def payer_in(**overrides: Any) -> PayerIn:
    fields: dict[str, Any] = {
        "name": "Acme Health",
        "x12_payer_id": "AC" + uuid.uuid4().hex[:8].upper(),
        "timely_filing_days": 90,
        "telehealth_modifier": "95",
        "prior_auth_cpt_codes": [],
    }
    fields.update(overrides)
    return PayerIn(**fields)


async def make_payer(conn: asyncpg.Connection, **overrides: Any) -> PayerOut:
    return await service.create_payer(conn, payer_in(**overrides))


def fee_in(**overrides: Any) -> FeeScheduleIn:
    fields: dict[str, Any] = {
        "cpt_code": "90837",
        "modifier": None,
        "allowed_cents": 15000,
        "provider_rate_cents": 11000,
        "effective_from": date(2026, 1, 1),
        "effective_to": None,
    }
    fields.update(overrides)
    return FeeScheduleIn(**fields)


async def make_fee(
    conn: asyncpg.Connection, actor: Actor, payer_id: uuid.UUID, **overrides: Any
) -> FeeScheduleOut:
    return await service.create_fee_schedule(conn, actor, payer_id, fee_in(**overrides))


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_actor(db, "ops")


@pytest.fixture
async def payer(db: asyncpg.Connection) -> PayerOut:
    return await make_payer(db)
