"""Arrange users, providers, clients, payers, fee schedules, policies and sessions for tests.

Plain async functions over the test's `db` connection (or any connection): they go through the
real service functions where one exists, and return the Actor a token would carry, the service's
answer (a payer, a fee schedule, a session) or the new row's id.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from schemas.claims import ClaimIn, ClaimLineIn
from schemas.clients import PolicyIn, SignupIn
from schemas.common import Address
from schemas.payers import FeeScheduleIn, FeeScheduleOut, PayerIn, PayerOut
from schemas.providers import ProviderIn
from schemas.therapy_sessions import BookSessionIn, SessionOut
from services.claims import service as claims
from services.clients import policies
from services.clients import service as clients
from services.core import clock
from services.core.auth import Actor
from services.core.settings import Settings
from services.payers import service as payers
from services.providers.service import onboard_provider
from services.providers.validation import npi_check_digit
from services.therapy_sessions import service as sessions

PASSWORD = "correct horse battery"
TAX_ID = "98-7654321"
_serial = itertools.count(int(uuid.uuid4().int % 10_000_000))


def email() -> str:
    return f"c-{uuid.uuid4().hex[:12]}@example.test"


def valid_npi(seed: int | None = None) -> str:
    """A valid individual NPI, different on every call unless `seed` is given."""
    body = "1" + f"{(next(_serial) if seed is None else seed) % 100_000_000:08d}"
    return body + str(npi_check_digit(body))


async def _user(db: asyncpg.Connection, role: str) -> uuid.UUID:
    user_id: uuid.UUID = await db.fetchval(
        "INSERT INTO users (email, role) VALUES ($1, $2) RETURNING id",
        f"{role}-{uuid.uuid4().hex[:10]}@example.test",
        role,
    )
    return user_id


async def make_ops(db: asyncpg.Connection) -> Actor:
    """An ops user that exists (events and invitations reference their id)."""
    return Actor(user_id=await _user(db, "ops"), role="ops")


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
    ops = ops or await make_ops(db)
    data = ProviderIn(**provider_body(**overrides))
    out = await onboard_provider(db, settings, ops, data)
    return Actor(user_id=out.provider.user_id, role="provider", provider_id=out.provider.id)


async def make_client(db: asyncpg.Connection, settings: Settings, **fields: Any) -> Actor:
    """A client with a verified account; returns the Actor their token would carry."""
    data = SignupIn(
        email=email(),
        password=PASSWORD,
        first_name=fields.get("first_name", "Ada"),
        last_name="Lovelace",
        date_of_birth=date(1990, 4, 1),
        sex="F",
        address=Address(line1="1 Main St", city="Springfield", state="IL", zip="62701"),
    )
    out = await clients.create_client_with_password(db, settings, data)
    return Actor(user_id=out.user_id, role="client", client_id=out.id)


async def make_client_actor(db: asyncpg.Connection) -> Actor:
    """A client user with a bare profile (no policy, no bookings), for role probes."""
    user_id = await _user(db, "client")
    # The API checks a token's client id against the user's profile, so it must be real.
    client_id = await db.fetchval(
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


async def make_provider_actor(db: asyncpg.Connection) -> Actor:
    """A provider user with a bare profile (never onboarded: a dummy tax id), for role probes."""
    user_id = await _user(db, "provider")
    provider_id = await db.fetchval(
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


async def make_actor(db: asyncpg.Connection, role: str) -> Actor:
    """A user of `role` ("ops", "provider" or "client") with a bare profile, for role probes."""
    makers = {"ops": make_ops, "provider": make_provider_actor, "client": make_client_actor}
    return await makers[role](db)


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


async def make_payer(db: asyncpg.Connection, **overrides: Any) -> PayerOut:
    """A payer (its X12 payer id new on every call) through the payers service."""
    return await payers.create_payer(db, payer_in(**overrides))


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
    db: asyncpg.Connection, actor: Actor, payer_id: uuid.UUID, **overrides: Any
) -> FeeScheduleOut:
    return await payers.create_fee_schedule(db, actor, payer_id, fee_in(**overrides))


async def make_policy(
    db: asyncpg.Connection, client: Actor, payer_id: uuid.UUID, **fields: Any
) -> uuid.UUID:
    data = PolicyIn(
        payer_id=payer_id,
        member_id=fields.get("member_id", "M123456"),
        priority=fields.get("priority", "primary"),
        relationship="self",
        effective_from=fields.get("effective_from", date(2020, 1, 1)),
        effective_to=fields.get("effective_to"),
    )
    assert client.client_id is not None
    return (await policies.add_policy(db, client, client.client_id, data)).id


async def make_insured_client(
    db: asyncpg.Connection, settings: Settings, **fields: Any
) -> tuple[Actor, uuid.UUID]:
    """A client with a primary policy at a new payer: (the client, the policy id)."""
    me = await make_client(db, settings, **fields)
    return me, await make_policy(db, me, (await make_payer(db)).id)


def future(days: int = 7) -> datetime:
    return (clock.now() + timedelta(days=days)).replace(microsecond=0)


async def make_session(
    db: asyncpg.Connection,
    ops: Actor,
    provider: Actor,
    client: Actor,
    policy_id: uuid.UUID | None = None,
    *,
    starts_at: datetime | None = None,
) -> SessionOut:
    data = BookSessionIn(
        provider_id=provider.provider_id,
        client_id=client.client_id,
        policy_id=policy_id,
        starts_at=starts_at or future(),
        duration_minutes=50,
        place_of_service="11",
    )
    return await sessions.book_session(db, ops, data)


async def move_to_past(db: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await db.execute(
        "UPDATE therapy_sessions SET starts_at = $2 WHERE id = $1",
        session_id,
        clock.now() - timedelta(hours=2),
    )


async def make_claim(
    db: asyncpg.Connection,
    payer_id: uuid.UUID,
    provider: Actor | None = None,
    client: Actor | None = None,
    service_date: date | None = None,
) -> uuid.UUID:
    """A `ready` claim at the payer for a new session (of new bare profiles unless given)."""
    ops = await make_ops(db)
    provider = provider or await make_provider_actor(db)
    client = client or await make_client_actor(db)
    policy_id = await make_policy(db, client, payer_id)
    session = await make_session(db, ops, provider, client, policy_id)
    line = ClaimLineIn(
        cpt_code="90837", modifiers=[], diagnosis_pointers=[1], allowed_cents=0,
        provider_rate_cents=0,
    )  # fmt: skip
    data = ClaimIn(
        therapy_session_id=session.id,
        payer_id=payer_id,
        policy_id=policy_id,
        provider_id=session.provider_id,
        client_id=session.client_id,
        service_date=service_date or session.starts_at.date(),
        place_of_service=session.place_of_service,
        diagnosis_codes=["F411"],
        prior_authorization_id=None,
        lines=[line],
    )
    return await claims.create_claim(db, ops, data)
