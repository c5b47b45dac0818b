"""Arrange providers and payers for tests through the real service functions."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import asyncpg

from schemas.providers import ProviderIn
from services.core.auth import Actor
from services.core.settings import Settings
from services.providers.service import onboard_provider
from services.providers.validation import npi_check_digit

_serial = itertools.count(int(uuid.uuid4().int % 10_000_000))
TAX_ID = "98-7654321"


def valid_npi(seed: int | None = None) -> str:
    """A valid individual NPI, different on every call unless `seed` is given."""
    body = "1" + f"{(next(_serial) if seed is None else seed) % 100_000_000:08d}"
    return body + str(npi_check_digit(body))


def ops_actor() -> Actor:
    return Actor(user_id=uuid.uuid4(), role="ops")


async def ops_user(db: asyncpg.Connection) -> Actor:
    """An ops user that exists (events and invitations reference their id)."""
    user_id = await db.fetchval(
        "INSERT INTO users (email, role) VALUES ($1, 'ops') RETURNING id",
        f"ops-{uuid.uuid4().hex[:10]}@example.test",
    )
    return Actor(user_id=user_id, role="ops")


def provider_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": f"therapist-{uuid.uuid4().hex[:10]}@example.test",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "npi": valid_npi(),
        "taxonomy_code": "101YM0800X",
        "tax_id": TAX_ID,
    }
    body.update(overrides)
    return body


async def make_provider(
    db: asyncpg.Connection, settings: Settings, ops: Actor | None = None, **overrides: Any
) -> Actor:
    """Onboard a provider; returns the Actor their token would carry."""
    ops = ops or await ops_user(db)
    data = ProviderIn(**provider_body(**overrides))
    out = await onboard_provider(db, settings, ops, data)
    return Actor(user_id=out.provider.user_id, role="provider", provider_id=out.provider.id)


async def make_client_actor(db: asyncpg.Connection) -> Actor:
    user_id = await db.fetchval(
        "INSERT INTO users (email, role) VALUES ($1, 'client') RETURNING id",
        f"client-{uuid.uuid4().hex[:10]}@example.test",
    )
    return Actor(user_id=user_id, role="client", client_id=uuid.uuid4())


async def make_payer(db: asyncpg.Connection, name: str = "Aetna") -> uuid.UUID:
    payer_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO payers (name, x12_payer_id, timely_filing_days)
        VALUES ($1, $2, 90) RETURNING id
        """,
        name,
        uuid.uuid4().hex[:12].upper(),
    )
    return payer_id
