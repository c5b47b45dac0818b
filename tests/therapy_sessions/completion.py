"""A world where a session can be completed: the helpers of the completion tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx

from schemas.credentialing import CredentialingIn, TransitionIn
from schemas.eligibility import Benefits
from schemas.payers import PayerOut
from schemas.prior_authorizations import PriorAuthorizationIn
from schemas.therapy_sessions import SessionOut
from services.core import clock
from services.core.auth import Actor
from services.core.settings import Settings
from services.credentialing.service import request_credentialing, transition
from services.eligibility import queries as eligibility_queries
from services.prior_authorizations.service import create_authorization
from services.providers.details import set_self_pay_rate
from tests.factories import (
    make_client,
    make_fee,
    make_ops,
    make_payer,
    make_policy,
    make_provider,
    make_session,
)

# The conftest `clock` fixture freezes at 2026-11-26: approvals and policies cover the year.
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
# Per code: the payer's allowed amount, the provider's rate under it, their self-pay rate.
PRICES = {
    "90791": (18000, 13000, 22000),
    "90832": (8000, 6000, 10000),
    "90834": (11000, 8000, 14000),
    "90837": (15000, 11000, 19000),
    "90846": (12000, 9000, 15000),
    "90847": (12500, 9500, 15500),
    "90785": (1500, 1200, 2000),
}


async def price_everything(
    db: asyncpg.Connection, ops: Actor, provider_id: uuid.UUID, payer_id: uuid.UUID
) -> None:
    """A fee schedule for every code at the payer, and the provider's self-pay rates."""
    for code, (allowed, rate, self_pay) in PRICES.items():
        await make_fee(
            db, ops, payer_id, cpt_code=code, allowed_cents=allowed, provider_rate_cents=rate
        )
        await set_self_pay_rate(db, provider_id, code, self_pay)


async def approve(
    db: asyncpg.Connection,
    ops: Actor,
    provider_id: uuid.UUID,
    payer_id: uuid.UUID,
    dates: tuple[date, date] = YEAR,
) -> None:
    record = await request_credentialing(
        db, ops, CredentialingIn(provider_id=provider_id, payer_id=payer_id)
    )
    for step in ("submitted", "in_review"):
        await transition(db, ops, record.id, TransitionIn(to_status=step, reason=step))
    await transition(
        db,
        ops,
        record.id,
        TransitionIn(to_status="approved", reason="ok", effective_on=dates[0], ends_on=dates[1]),
    )


@dataclass
class Visit:
    """A provider, an insured client and their booked session, credentialed for the year."""

    ops: Actor
    provider: Actor
    client: Actor
    payer: PayerOut
    policy_id: uuid.UUID
    session: SessionOut


async def arrange(
    db: asyncpg.Connection,
    settings: Settings,
    *,
    credentialed: bool = True,
    insured: bool = True,
    priced: bool = True,
    **payer: Any,
) -> Visit:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    client = await make_client(db, settings)
    found = await make_payer(db, **payer)
    policy_id = await make_policy(db, client, found.id, effective_from=YEAR[0])
    assert provider.provider_id is not None
    if credentialed:
        await approve(db, ops, provider.provider_id, found.id)
    if priced:
        await price_everything(db, ops, provider.provider_id, found.id)
    session = await make_session(db, ops, provider, client, policy_id if insured else None)
    return Visit(ops, provider, client, found, policy_id, session)


def completion_body(**fields: Any) -> dict[str, Any]:
    """A valid in-office 90837 of 55 minutes that started two hours ago, one diagnosis."""
    body: dict[str, Any] = {
        "lines": [{"cpt_code": "90837", "modifiers": [], "diagnosis_pointers": [1]}],
        "diagnosis_codes": ["F41.1"],
        "place_of_service": "11",
        "started_at": (clock.now() - timedelta(hours=2)).isoformat(),
        "duration_minutes": 55,
        "note_attested": True,
    }
    body.update(fields)
    return body


async def session_row(db: asyncpg.Connection, session_id: uuid.UUID) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT status, confirmed_at, diagnosis_codes,"
        " (SELECT count(*) FROM therapy_session_lines WHERE therapy_session_id = s.id) AS lines"
        " FROM therapy_sessions s WHERE id = $1",
        session_id,
    )
    assert row is not None
    return dict(row)


async def authorize(db: asyncpg.Connection, visit: Visit, number: str, visits: int) -> uuid.UUID:
    """A prior authorization of `visits` 90837 visits for the year, at the visit's payer."""
    assert visit.client.client_id is not None
    data = PriorAuthorizationIn(
        client_id=visit.client.client_id,
        payer_id=visit.payer.id,
        number=number,
        cpt_codes=["90837"],
        visits_authorized=visits,
        valid_from=YEAR[0],
        valid_to=YEAR[1],
    )
    return (await create_authorization(db, visit.ops, data)).id


async def benefit_check(db: asyncpg.Connection, visit: Visit, benefits: Benefits) -> None:
    """An answered benefit check of the visit's policy, asked by its provider."""
    assert visit.client.client_id is not None
    now = clock.now()
    await eligibility_queries.insert_check(
        db,
        policy_id=visit.policy_id,
        client_id=visit.client.client_id,
        provider_id=visit.provider.provider_id,
        service_date=date(2026, 11, 1),
        trace=f"T{uuid.uuid4().hex[:12]}",
        payload_id=uuid.uuid4(),
        status=benefits.status,
        benefits=benefits,
        request_x12="ISA~",
        response_x12="ISA~",
        requested_by=None,
        requested_at=now,
        completed_at=now,
        duration_ms=1,
    )


async def complete(
    client: httpx.AsyncClient, token: Any, visit: Visit, **fields: Any
) -> dict[str, Any]:
    """The visit's session completed by its provider through the API (200), its answer."""
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(**fields),
        headers=token(visit.provider),
    )
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out
