"""Completion: the provider confirms a session (or records an unbooked one), validated.

DESIGN.md "The lifecycle" 4 and "Validation rules that real payers enforce". The coding rules
are pure (rules.py); the ones read from the database are here, all judged on the date of
service (the start's date where the session took place), never on today's statuses. A refusal
raises before anything is written, so the request's transaction has nothing to undo.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import asyncpg

from schemas.payers import PayerOut
from schemas.therapy_sessions import (
    BookSessionIn,
    CompleteSessionIn,
    CompletionOut,
    RecordSessionIn,
    SessionLineOut,
    SessionOut,
)
from services.clients import service as clients
from services.core import audit, clock
from services.core.auth import Actor
from services.core.errors import Unauthorized
from services.core.settings import Settings
from services.credentialing.service import is_credentialed
from services.payers.service import get_payer
from services.prior_authorizations.service import use_visit
from services.therapy_sessions import billing, queries, rules
from services.therapy_sessions.errors import (
    CompletionRefused,
    CoverageNotConfirmed,
    PolicyInactive,
)
from services.therapy_sessions.service import ENTITY, lock_scheduled, write_booking


async def _payer(conn: asyncpg.Connection, session: SessionOut, day: date) -> PayerOut | None:
    """The payer of the session's policy, which must cover the date; None: self-pay."""
    if session.policy_id is None:
        return None
    policy = await clients.covering_policy(conn, session.client_id, session.policy_id, day)
    if policy is None:
        raise PolicyInactive(
            f"the session's policy is not active on {day.isoformat()}", field="policy_id"
        )
    return await get_payer(conn, policy.payer_id)


async def _check_payer_rules(
    conn: asyncpg.Connection, session: SessionOut, payer: PayerOut, day: date
) -> None:
    if not await is_credentialed(conn, session.provider_id, payer.id, day):
        raise CompletionRefused(
            f"the provider's credentialing with this payer is not approved on {day.isoformat()}",
            code="not_credentialed",
            field="provider_id",
        )
    closes = day + timedelta(days=payer.timely_filing_days)
    if clock.today() > closes:
        raise CompletionRefused(
            f"the payer's timely-filing window for this date closed on {closes.isoformat()}",
            code="timely_filing_closed",
            field="started_at",
        )


def authorization_codes(payer: PayerOut, data: CompleteSessionIn) -> list[str]:
    """The session's codes this payer wants a prior authorization for."""
    return sorted({x.cpt_code for x in data.lines} & set(payer.prior_auth_cpt_codes))


async def use_authorization(
    conn: asyncpg.Connection,
    session: SessionOut,
    payer: PayerOut,
    data: CompleteSessionIn,
    day: date,
) -> uuid.UUID | None:
    """A visit of the prior authorization the payer wants for these codes, used; the last
    rule, as it writes (the request's transaction undoes it if anything later fails)."""
    needed = authorization_codes(payer, data)
    if not needed:
        return None
    used = await use_visit(conn, session.client_id, payer.id, needed, day)
    if used is None:
        raise CompletionRefused(
            f"the payer requires a prior authorization for {', '.join(needed)}: none covers "
            f"{day.isoformat()} with a visit left",
            code="prior_authorization_required",
            field="lines[0].cpt_code",
        )
    return used.id


async def check_and_price(
    conn: asyncpg.Connection, settings: Settings, session: SessionOut, data: CompleteSessionIn
) -> tuple[list[str], billing.Pricing]:
    """Every completion rule but the prior authorization's (which writes), then the amounts:
    the diagnoses as stored and the pricing. Nothing is written."""
    if data.started_at > clock.now():
        raise CompletionRefused(
            "a session is completed after it started", code="not_started", field="started_at"
        )
    # The date of service is the start's date where the session took place (its offset).
    day = data.started_at.date()
    payer = await _payer(conn, session, day)
    codes = rules.check_coding(data, payer.telehealth_modifier if payer else None)
    if payer is not None:
        await _check_payer_rules(conn, session, payer, day)
    return codes, await billing.price(conn, settings, session, payer, data, day)


async def _authorize(
    conn: asyncpg.Connection, session: SessionOut, pricing: billing.Pricing, data: CompleteSessionIn
) -> uuid.UUID | None:
    """The prior authorization visit the claim uses (only a claim needs one)."""
    if pricing.payer is None:
        return None
    return await use_authorization(conn, session, pricing.payer, data, data.started_at.date())


async def _confirm(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session: SessionOut,
    data: CompleteSessionIn,
) -> CompletionOut:
    """Validate and price, then write in the caller's one transaction: the session confirmed,
    its lines, the prior authorization's visit, the claim, the journal entry and the claim's
    submission row (due when its hold ends); or, coverage held, the session on hold for ops."""
    codes, pricing = await check_and_price(conn, settings, session, data)
    authorization = await _authorize(conn, session, pricing, data)
    try:
        confirmed = await queries.update_confirm_with_lines(
            conn, session.id, data, codes, actor.user, authorization,
            (ENTITY, audit.author(actor)),
        )  # fmt: skip
    except asyncpg.ForeignKeyViolationError as exc:
        # confirmed_by: the token check found the user this request, so only a user gone
        # since then gets here (clients.require_caller's 401, without its second read).
        raise Unauthorized("the token's user does not exist") from exc
    lines = [
        SessionLineOut(
            line_number=n,
            cpt_code=line.cpt_code,
            modifiers=line.modifiers,
            diagnosis_pointers=line.diagnosis_pointers,
        )
        for n, line in enumerate(data.lines, start=1)
    ]
    claim_id = await billing.book(conn, settings, actor, confirmed, data, pricing)
    return CompletionOut(
        session=confirmed, lines=lines, claim_id=claim_id, billing_hold=pricing.hold
    )


async def bill_held(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session: SessionOut,
    data: CompleteSessionIn,
) -> tuple[billing.Pricing, uuid.UUID | None]:
    """A confirmed session on hold, booked as its completion would have booked it had the
    latest benefit check said what it says now; (pricing, claim id). Still held: a refusal."""
    _, pricing = await check_and_price(conn, settings, session, data)
    if pricing.hold is not None:
        raise CoverageNotConfirmed(
            "the latest benefit check still does not say this plan covers the session "
            f"({pricing.hold.replace('_', '-')}): check the benefits again first",
            field="outcome",
        )
    authorization = await _authorize(conn, session, pricing, data)
    if authorization is not None:
        session = await queries.update_prior_authorization(conn, session.id, authorization)
    claim_id = await billing.book(conn, settings, actor, session, data, pricing)
    return pricing, claim_id


async def complete_session(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session_id: uuid.UUID,
    data: CompleteSessionIn,
) -> CompletionOut:
    """Confirm a scheduled session: its provider or ops."""
    session = await lock_scheduled(conn, actor, session_id)
    return await _confirm(conn, settings, actor, session, data)


async def record_session(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, data: RecordSessionIn
) -> CompletionOut:
    """An unbooked session that took place: booked and confirmed in one transaction."""
    booking = BookSessionIn(
        provider_id=data.provider_id,
        client_id=data.client_id,
        policy_id=data.policy_id,
        starts_at=data.started_at,
        # The booking's planned length (15-240) is the actual one, within that range.
        duration_minutes=min(max(data.duration_minutes, 15), 240),
        place_of_service=data.place_of_service,
    )
    await clients.require_caller(conn, actor)
    session = await write_booking(conn, actor, booking, refuse=PolicyInactive)
    return await _confirm(conn, settings, actor, session, data)
