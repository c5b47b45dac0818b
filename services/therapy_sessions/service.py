"""Use cases of booking: book, read, cancel, mark a no-show."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from schemas.therapy_sessions import (
    BookSessionIn,
    ClaimCoding,
    CompleteSessionIn,
    SessionFilters,
    SessionOut,
)
from services.clients import service as clients
from services.clients.errors import ClientNotFound
from services.core import audit, clock
from services.core.auth import Actor
from services.core.errors import Unprocessable
from services.core.pagination import Page, page_of
from services.core.scope import Scope, named_parties, owner_scope
from services.good_faith import service as good_faith
from services.therapy_sessions import queries, rules
from services.therapy_sessions.errors import BadBooking, SessionNotFound, WrongStatus
from services.therapy_sessions.rules import TELEHEALTH_MODIFIERS as TELEHEALTH_MODIFIERS

ENTITY = "therapy_session"
BOOKING_HORIZON = timedelta(days=730)


async def _parties(
    conn: asyncpg.Connection, actor: Actor, data: BookSessionIn
) -> tuple[uuid.UUID, uuid.UUID]:
    """Who the session is between, as the caller's role allows, both known."""
    provider_id, client_id = named_parties(
        actor,
        data.provider_id,
        data.client_id,
        foreign_client=ClientNotFound("client not found", field="client_id"),
        foreign_provider=SessionNotFound(
            "providers book only their own sessions", field="provider_id"
        ),
        missing=BadBooking,
    )
    if actor.role == "provider":
        # A provider books only for a client they already see.
        if not await clients.provider_sees_client(conn, provider_id, client_id):
            raise ClientNotFound("client not found", field="client_id")
    elif not await queries.client_exists(conn, client_id):
        raise BadBooking("no client has this id", field="client_id")
    if not await queries.provider_exists(conn, provider_id):
        raise BadBooking("no provider has this id", field="provider_id")
    return provider_id, client_id


async def book_session(conn: asyncpg.Connection, actor: Actor, data: BookSessionIn) -> SessionOut:
    """A scheduled session between a provider and a client."""
    now = clock.now()
    if not now < data.starts_at <= now + BOOKING_HORIZON:
        raise BadBooking("starts_at must be in the future, within two years", field="starts_at")
    await clients.require_caller(conn, actor)
    return await write_booking(conn, actor, data)


async def write_booking(
    conn: asyncpg.Connection,
    actor: Actor,
    data: BookSessionIn,
    *,
    refuse: type[Unprocessable] = BadBooking,
) -> SessionOut:
    """The booking row between the parties the caller may name, its policy checked; `refuse`
    is the error a policy that does not cover the date raises."""
    provider_id, client_id = await _parties(conn, actor, data)
    if data.policy_id is not None:
        # The date of service is the session's date where it happens (the offset given).
        day = data.starts_at.date()
        if await clients.covering_policy(conn, client_id, data.policy_id, day) is None:
            raise refuse(
                "the policy is not the client's or does not cover the session date",
                field="policy_id",
            )
    session = await queries.insert_session(
        conn,
        provider_id=provider_id,
        client_id=client_id,
        policy_id=data.policy_id,
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        place_of_service=data.place_of_service,
        created_by=actor.user,
    )
    await clients.add_shared_session(conn, provider_id, client_id)
    await audit.record(conn, actor, "create", ENTITY, [session.id])
    # Self-pay or out of network: the client's Good Faith Estimate, in this transaction.
    await good_faith.issue_for_booking(conn, actor, session)
    return session


async def get_session(conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID) -> SessionOut:
    session = await queries.get_session(conn, session_id, owner_scope(actor))
    if session is None:
        raise SessionNotFound("therapy session not found")
    await audit.record(conn, actor, "read", ENTITY, [session.id])
    return session


async def list_sessions(
    conn: asyncpg.Connection,
    actor: Actor,
    filters: SessionFilters,
    cursor: str | None,
    limit: int,
) -> Page[SessionOut]:
    # A filter naming someone outside the caller's scope matches nothing.
    scope = owner_scope(actor)
    page = await page_of(
        lambda after, n: queries.list_sessions(conn, filters, scope, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", ENTITY, [r.id for r in page.items])
    return page


async def lock_scheduled(
    conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID
) -> SessionOut:
    session = await queries.lock_session(conn, session_id, owner_scope(actor))
    if session is None:
        raise SessionNotFound("therapy session not found")
    if session.status != "scheduled":
        raise WrongStatus(f"the session is {session.status}, not scheduled", field="status")
    return session


async def cancel_session(
    conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID, reason: str
) -> SessionOut:
    """Cancel a scheduled session; it ends without a claim."""
    session = await lock_scheduled(conn, actor, session_id)
    await clients.require_caller(conn, actor)
    cancelled = await queries.update_cancel(conn, session.id, reason, actor.user)
    await clients.remove_shared_session(conn, session.provider_id, session.client_id)
    await audit.record(conn, actor, "update", ENTITY, [session.id])
    return cancelled


async def mark_no_show(conn: asyncpg.Connection, actor: Actor, session_id: uuid.UUID) -> SessionOut:
    """The client did not come: only once the session's start time has passed."""
    session = await lock_scheduled(conn, actor, session_id)
    if session.starts_at > clock.now():
        raise WrongStatus(
            "a session is a no-show only after it was due to start",
            code="therapy_session_not_started",
            field="starts_at",
        )
    marked = await queries.update_no_show(conn, session.id)
    await audit.record(conn, actor, "update", ENTITY, [session.id])
    return marked


async def check_claim_coding(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    coding: ClaimCoding,
    telehealth_modifier: str | None,
) -> list[str]:
    """Completion's coding rules (rules.py) on a claim's corrected coding, judged with the
    confirmed session's own start, length and attestation; the diagnoses as stored (no dots)."""
    session = await queries.get_session(conn, session_id, Scope(None, None))
    if session is None or session.started_at is None or session.actual_minutes is None:
        raise SessionNotFound("the claim's session is not confirmed")
    data = CompleteSessionIn(
        lines=coding.lines,
        diagnosis_codes=coding.diagnosis_codes,
        place_of_service=coding.place_of_service,
        started_at=session.started_at,
        duration_minutes=session.actual_minutes,
        note_attested=bool(session.note_attested),
    )
    return rules.check_coding(data, telehealth_modifier)


async def count_coverage_holds(conn: asyncpg.Connection) -> int:
    """The coverage queue's length (the ops digest): a count, no session read."""
    return await queries.count_coverage_holds(conn)
