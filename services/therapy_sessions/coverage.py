"""The coverage queue: sessions confirmed on hold because the benefit check said carve-out or
could not say (DESIGN.md "Money": no charge and no claim), and how ops settle each, once.

Billed: after a new benefit check says the plan covers it, the claim and the completion entry
are booked by completion's own code, as if the session were completed now with what it
recorded (the date of service rebuilt from the offset the provider gave). Self-pay: the
completion's self-pay entry (the provider's self-pay rate). Written off: nothing is booked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import asyncpg

from schemas.therapy_sessions import (
    CompleteSessionIn,
    CoverageHoldOut,
    CoverageSettlementOut,
    ServiceLineIn,
    SessionOut,
    SettleCoverageIn,
)
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pagination import After, Page, page_of
from services.core.scope import owner_scope
from services.core.settings import Settings
from services.therapy_sessions import billing, completion, queries
from services.therapy_sessions.errors import (
    NotOnHold,
    ReasonRequired,
    SessionNotFound,
)
from services.therapy_sessions.service import ENTITY


def _held_key(item: CoverageHoldOut) -> After:
    return item.held_since, item.id


async def list_coverage_holds(
    conn: asyncpg.Connection, actor: Actor, cursor: str | None, limit: int
) -> Page[CoverageHoldOut]:
    """Ops' queue of held sessions not yet settled, longest waiting first."""
    page = await page_of(
        lambda after, n: queries.list_coverage_holds(conn, after, n), cursor, limit, key=_held_key
    )
    await audit.record(conn, actor, "read", ENTITY, [s.id for s in page.items])
    return page


async def _as_completed(
    conn: asyncpg.Connection, session: SessionOut, offset_minutes: int
) -> CompleteSessionIn:
    """What the provider recorded at completion, started_at at the offset they gave."""
    assert session.started_at is not None
    assert session.actual_minutes is not None
    lines = await queries.list_lines(conn, session.id)
    return CompleteSessionIn(
        lines=[
            ServiceLineIn(
                cpt_code=line.cpt_code,
                modifiers=line.modifiers,
                diagnosis_pointers=line.diagnosis_pointers,
            )
            for line in lines
        ],
        diagnosis_codes=session.diagnosis_codes or [],
        place_of_service=session.place_of_service,
        started_at=session.started_at.astimezone(timezone(timedelta(minutes=offset_minutes))),
        duration_minutes=session.actual_minutes,
        note_attested=True,
    )


async def settle_coverage(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session_id: uuid.UUID,
    data: SettleCoverageIn,
) -> CoverageSettlementOut:
    """Settle a held session once: billed, self-pay or written off (with a reason)."""
    session = await queries.lock_session(conn, session_id, owner_scope(actor))
    hold = None if session is None else await queries.lock_held(conn, session_id)
    if session is None or hold is None:
        raise SessionNotFound("therapy session not found")
    if hold.billing_hold is None or hold.billing_hold_offset_minutes is None:
        raise NotOnHold("the session is not on hold for coverage", field="session_id")
    if hold.billing_settlement is not None:
        raise NotOnHold(
            f"the session's coverage was settled already ({hold.billing_settlement})",
            field="session_id",
        )
    if data.outcome != "billed" and data.reason is None:
        raise ReasonRequired(f"say why the session is {data.outcome}", field="reason")
    claim_id = None
    if data.outcome != "written_off":
        recorded = await _as_completed(conn, session, hold.billing_hold_offset_minutes)
        if data.outcome == "billed":
            _, claim_id = await completion.bill_held(conn, settings, actor, session, recorded)
        else:
            pricing = await billing.price_self_pay(conn, settings, session, recorded)
            await billing.book(conn, settings, actor, session, recorded, pricing)
    now = clock.now()
    await queries.update_settlement(conn, session_id, data.outcome, data.reason, actor.user, now)
    await audit.record(conn, actor, "update", ENTITY, [session_id])
    return CoverageSettlementOut(
        session_id=session_id,
        billing_hold=hold.billing_hold,
        outcome=data.outcome,
        reason=data.reason,
        settled_by=actor.user,
        settled_at=now,
        claim_id=claim_id,
    )
