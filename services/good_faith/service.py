"""Good Faith Estimates (No Surprises Act, 45 CFR 149.610) for clients who pay the provider's
self-pay rate: no policy, or a policy under which the provider is out of network.

A booking issues one for the course of therapy it starts (DESIGN.md "Charging clients"), in the
booking's transaction, with its email queued through the outbox: at once, which meets the rule's
deadlines (1 business day after scheduling when the service is 3+ business days away, 3 business
days when it is 10+ away). A recurring course is one estimate of up to 12 months from the first
booked date, its expected sessions stated; a later booking inside that period issues nothing,
unless the rate or the service changed, which issues a new version of the course. A client may
also ask for one (so may their provider, or ops): within 3 business days by the rule, at once
here. The self-pay bill of each completed session is recorded against its course; a course
billed $400 or more above its estimate is flagged for ops (the client may dispute it, 45 CFR
149.620), never blocked.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import NamedTuple

import asyncpg

from schemas.good_faith import (
    GoodFaithDocument,
    GoodFaithEmailJob,
    GoodFaithEstimateOut,
    GoodFaithExceededOut,
    GoodFaithLine,
    GoodFaithReason,
    GoodFaithRequestIn,
)
from schemas.therapy_sessions import SessionOut
from services.clients import service as clients
from services.clients.errors import ClientNotFound
from services.core import audit, clock, outbox
from services.core.auth import SYSTEM, Actor
from services.core.pagination import After, Page, page_of
from services.core.scope import named_parties, owner_scope
from services.credentialing.service import is_credentialed
from services.eligibility.service import plan_network
from services.good_faith import queries
from services.good_faith.errors import BadEstimateRequest, EstimateNotFound, NoSelfPayRate
from services.providers import service as providers

ENTITY = "good_faith_estimate"
# A recurring course is estimated weekly for the 12 months one estimate may cover.
EXPECTED_SESSIONS = 52
FREQUENCY = "weekly"
# 45 CFR 149.620: a bill at least this much above the estimate can be disputed.
DISPUTE_THRESHOLD_CENTS = 40_000
DEFAULT_CPT = "90837"
DESCRIPTIONS = {
    "90791": "Psychiatric diagnostic evaluation (intake)",
    "90832": "Psychotherapy, 30 minutes (16-37 min)",
    "90834": "Psychotherapy, 45 minutes (38-52 min)",
    "90837": "Psychotherapy, 60 minutes (53 min or more)",
    "90846": "Family psychotherapy without the patient, 50 minutes",
    "90847": "Family psychotherapy with the patient, 50 minutes",
}


def cpt_for_minutes(minutes: int) -> str:
    """The psychotherapy code a booked length will be billed as (DESIGN.md time ranges)."""
    if minutes >= 53:
        return "90837"
    return "90834" if minutes >= 38 else "90832"


def course_period(start: date) -> tuple[date, date]:
    """Twelve months from `start`, its last day included (29 February: to 27 February)."""
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:
        anniversary = start.replace(year=start.year + 1, day=28)
    return start, anniversary - timedelta(days=1)


async def _reason(conn: asyncpg.Connection, session: SessionOut) -> GoodFaithReason | None:
    """Why this booking gets an estimate: no policy, or out of network as completion will bill
    it (the provider not credentialed with the payer on the date, or the plan's mental-health
    benefit only out of network). In network, carve-out or unknown coverage: none."""
    if session.policy_id is None:
        return "self_pay"
    day = session.starts_at.date()
    policy = await clients.covering_policy(conn, session.client_id, session.policy_id, day)
    if policy is None:
        return None
    if not await is_credentialed(conn, session.provider_id, policy.payer_id, day):
        return "out_of_network"
    network = await plan_network(conn, session.policy_id, session.provider_id)
    return "out_of_network" if network == "out" else None


async def _line(
    conn: asyncpg.Connection, provider_id: uuid.UUID, cpt_code: str, quantity: int
) -> GoodFaithLine | None:
    rate = await providers.get_self_pay_rate(conn, provider_id, cpt_code)
    if rate is None:
        return None
    return GoodFaithLine(
        cpt_code=cpt_code,
        description=DESCRIPTIONS.get(cpt_code, "Behavioral health service"),
        unit_cents=rate.amount_cents,
        quantity=quantity,
        total_cents=rate.amount_cents * quantity,
    )


async def _location(
    conn: asyncpg.Connection, provider_id: uuid.UUID, place_of_service: str, client_state: str
) -> str:
    """Where the sessions take place: the provider's office address, or telehealth and the
    client's state (where a telehealth service is furnished)."""
    if place_of_service != "11":
        where = "at home" if place_of_service == "10" else "away from home"
        return f"Telehealth, the client {where} in {client_state}"
    offices = await providers.list_locations(conn, provider_id, 50, None)
    for office in offices.items:
        if office.place_of_service == "11" and office.address is not None:
            a = office.address
            street = a.line1 + (f", {a.line2}" if a.line2 else "")
            return f"{office.name}, {street}, {a.city}, {a.state} {a.zip[:5]}"
    return "The provider's office"


async def _document(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    provider_id: uuid.UUID,
    place_of_service: str,
    first_session: date,
) -> GoodFaithDocument:
    client = await clients.visible_client(conn, SYSTEM, client_id)
    provider = await providers.get_provider(conn, SYSTEM, provider_id)
    return GoodFaithDocument(
        client_name=f"{client.first_name} {client.last_name}",
        client_date_of_birth=client.date_of_birth,
        provider_name=f"{provider.first_name} {provider.last_name}",
        provider_npi=provider.npi,
        place_of_service=place_of_service,
        location=await _location(conn, provider_id, place_of_service, client.state),
        diagnosis_codes=[],
        first_session=first_session,
        frequency=FREQUENCY,
    )


class _Pair(NamedTuple):
    client_id: uuid.UUID
    provider_id: uuid.UUID


async def _issue(
    conn: asyncpg.Connection,
    actor: Actor,
    pair: _Pair,
    *,
    previous: GoodFaithEstimateOut | None,
    reason: GoodFaithReason,
    session_id: uuid.UUID | None,
    period: tuple[date, date],
    line: GoodFaithLine,
    document: GoodFaithDocument,
) -> GoodFaithEstimateOut:
    """A new estimate (a course's next version when `previous`), audited, its email queued."""
    now = clock.now()
    if previous is not None:
        await queries.update_superseded(conn, previous.id, now)
    issued = await queries.insert_estimate(
        conn,
        course_id=previous.course_id if previous else uuid.uuid4(),
        version=previous.version + 1 if previous else 1,
        client_id=pair.client_id,
        provider_id=pair.provider_id,
        reason=reason,
        therapy_session_id=session_id,
        period=period,
        expected_sessions=line.quantity,
        lines=[line],
        document=document,
        issued_by=actor.user_id,
        at=now,
    )
    await audit.record(conn, actor, "create", ENTITY, [issued.id])
    job = GoodFaithEmailJob(estimate_id=issued.id)
    await outbox.add(conn, job, dedupe_key=f"good-faith-email:{issued.id}")
    return issued


async def issue_for_booking(
    conn: asyncpg.Connection, actor: Actor, session: SessionOut
) -> GoodFaithEstimateOut | None:
    """The estimate a booking owes its client, in the booking's transaction; None when none is
    owed (in network), the course's estimate already covers it, or the provider has no
    self-pay rate for the booked service (completion refuses to bill it then, too)."""
    reason = await _reason(conn, session)
    if reason is None:
        return None
    pair = _Pair(session.client_id, session.provider_id)
    day = session.starts_at.date()
    await queries.lock_pair(conn, *pair)
    course = await queries.get_open_course(conn, *pair, day)
    quantity = course.expected_sessions if course else EXPECTED_SESSIONS
    # The booking has no code yet: its length says which psychotherapy code it will be.
    line = await _line(
        conn, session.provider_id, cpt_for_minutes(session.duration_minutes), quantity
    )
    if line is None:
        return None
    if course is not None and course.period_start <= day:
        if course.lines == [line]:
            return None
        period = (course.period_start, course.period_end)  # a new rate or service: new version
    else:
        # A first course, or a booking before the open course starts: it starts here now.
        period = course_period(day)
    document = await _document(conn, *pair, session.place_of_service, day)
    return await _issue(
        conn, actor, pair, previous=course, reason=reason, session_id=session.id,
        period=period, line=line, document=document,
    )  # fmt: skip


async def _requested_pair(
    conn: asyncpg.Connection, actor: Actor, data: GoodFaithRequestIn
) -> _Pair:
    """Who the request is for, as the caller's role allows (others' ids answer 404)."""
    provider_id, client_id = named_parties(
        actor,
        data.provider_id,
        data.client_id,
        foreign_client=ClientNotFound("client not found", field="client_id"),
        foreign_provider=EstimateNotFound(
            "providers estimate only their own services", field="provider_id"
        ),
        missing=BadEstimateRequest,
    )
    if not await clients.client_in_scope(conn, actor, client_id):
        raise ClientNotFound("client not found", field="client_id")
    await providers.get_provider(conn, SYSTEM, provider_id)
    return _Pair(client_id, provider_id)


async def request_estimate(
    conn: asyncpg.Connection, actor: Actor, data: GoodFaithRequestIn
) -> GoodFaithEstimateOut:
    """An estimate on request, always issued: the open course's next version, else a new one."""
    pair = await _requested_pair(conn, actor, data)
    today = clock.today()
    start = data.first_session or today
    if not today <= start <= today + timedelta(days=730):
        raise BadEstimateRequest(
            "first_session must be today or later, within two years", field="first_session"
        )
    cpt_code = data.cpt_code or DEFAULT_CPT
    quantity = data.expected_sessions or EXPECTED_SESSIONS
    line = await _line(conn, pair.provider_id, cpt_code, quantity)
    if line is None:
        raise NoSelfPayRate(f"the provider has no self-pay rate for {cpt_code}", field="cpt_code")
    await queries.lock_pair(conn, *pair)
    course = await queries.get_open_course(conn, *pair, start)
    offices = await providers.list_locations(conn, pair.provider_id, 50, None)
    pos = "11" if any(o.place_of_service == "11" for o in offices.items) else "10"
    document = await _document(conn, *pair, pos, start)
    return await _issue(
        conn, actor, pair, previous=course, reason="requested", session_id=None,
        period=course_period(start), line=line, document=document,
    )  # fmt: skip


async def get_estimate(
    conn: asyncpg.Connection, actor: Actor, estimate_id: uuid.UUID
) -> GoodFaithEstimateOut:
    """One estimate: its client, the provider it is for, ops."""
    scope = owner_scope(actor)
    found = await queries.get_estimate(conn, estimate_id, scope.provider_id, scope.client_id)
    if found is None:
        raise EstimateNotFound("good faith estimate not found")
    await audit.record(conn, actor, "read", ENTITY, [found.id])
    return found


async def list_for_client(
    conn: asyncpg.Connection, actor: Actor, client_id: uuid.UUID, cursor: str | None, limit: int
) -> Page[GoodFaithEstimateOut]:
    """A client's estimates, every version; a provider sees only their own."""
    if not await clients.client_in_scope(conn, actor, client_id):
        raise ClientNotFound("client not found")
    provider_id = actor.provider_id if actor.role == "provider" else None
    page = await page_of(
        lambda after, n: queries.list_for_client(conn, client_id, provider_id, after, n),
        cursor,
        limit,
    )
    await audit.record(conn, actor, "read", ENTITY, [e.id for e in page.items])
    return page


async def record_self_pay_bill(
    conn: asyncpg.Connection, session: SessionOut, day: date, amount_cents: int
) -> None:
    """A self-pay session billed (completed, or its coding edited): its bill counts against
    the course whose estimate covers its date, and a course now billed $400 or more above its
    estimate is flagged for ops once. Billing goes on either way."""
    course = await queries.get_covering(conn, session.client_id, session.provider_id, day)
    if course is None:
        return
    now = clock.now()
    await queries.upsert_bill(conn, session.id, course.course_id, amount_cents, day, now)
    billed = await queries.sum_bills(conn, course.course_id)
    if billed - course.total_cents >= DISPUTE_THRESHOLD_CENTS:
        await queries.update_exceeded(conn, course.id, now)


def _exceeded_key(item: GoodFaithExceededOut) -> After:
    return item.exceeded_at, item.id


async def list_exceeded(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[GoodFaithExceededOut]:
    """Ops' queue: courses billed $400 or more above their estimate, first flagged first."""
    page = await page_of(
        lambda after, n: queries.list_exceeded(conn, after, n), cursor, limit, key=_exceeded_key
    )
    await audit.record(conn, actor, "read", ENTITY, [e.estimate_id for e in page.items])
    return page
