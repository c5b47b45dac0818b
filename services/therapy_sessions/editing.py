"""Edits of a confirmed session's coding within the edit window (DESIGN.md "Edit window and
submission timing").

An edit is the completion done again: the fields given replace the session's, and exactly the
completion rules judge the result. In one transaction the session and its lines are rewritten,
its claim (still `ready`: never sent) is rewritten in place under the same version, a prior
authorization whose codes or dates no longer apply gives its visit back (a newly required one
is used), and one journal entry posts the difference between what the session has booked so
far and what it prices at now, so the accounts end where a fresh completion would have put them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg

from schemas.claims import ClaimOut
from schemas.ledger import EntryIn, Line
from schemas.therapy_sessions import (
    CompleteSessionIn,
    CompletionOut,
    EditSessionIn,
    ServiceLineIn,
    SessionLineOut,
    SessionOut,
)
from services.claims import service as claims
from services.claims.errors import ClaimNotReady
from services.clients import service as clients
from services.core import audit, clock
from services.core.auth import Actor
from services.core.scope import owner_scope
from services.core.settings import Settings
from services.good_faith.service import record_self_pay_bill
from services.ledger.service import get_source_net, post_entry
from services.prior_authorizations.service import covers, return_visit
from services.therapy_sessions import billing, completion, queries
from services.therapy_sessions.errors import (
    CoverageChanged,
    EditWindowClosed,
    NothingToEdit,
    SessionNotFound,
    WrongStatus,
)
from services.therapy_sessions.service import ENTITY

_SOURCE = "therapy_sessions"


def _restated(started_at: datetime, service_date: date | None) -> datetime:
    """The stored start (an instant, read back in UTC) with an offset whose local date is the
    claim's date of service, so an edit that leaves the start alone keeps that date."""
    started_at = started_at.astimezone(UTC)
    if service_date is None or started_at.date() == service_date:
        return started_at
    since_midnight = started_at - started_at.replace(hour=0, minute=0, second=0, microsecond=0)
    if service_date < started_at.date():  # west of UTC: the evening before
        offset = -(since_midnight + timedelta(minutes=1))
    else:  # east of UTC: the morning after
        offset = timedelta(days=1) - since_midnight
    return started_at.astimezone(timezone(offset))


def _merged(
    session: SessionOut,
    lines: list[SessionLineOut],
    claim: ClaimOut | None,
    data: EditSessionIn,
) -> CompleteSessionIn:
    """The session's coding with the fields the edit gives, as a completion would state it."""
    assert session.started_at is not None
    assert session.actual_minutes is not None
    kept = [
        ServiceLineIn(
            cpt_code=line.cpt_code,
            modifiers=line.modifiers,
            diagnosis_pointers=line.diagnosis_pointers,
        )
        for line in lines
    ]
    started_at = data.started_at
    if started_at is None:
        started_at = _restated(session.started_at, claim.service_date if claim else None)
    return CompleteSessionIn(
        lines=kept if data.lines is None else data.lines,
        diagnosis_codes=(
            list(session.diagnosis_codes or [])
            if data.diagnosis_codes is None
            else data.diagnosis_codes
        ),
        place_of_service=data.place_of_service or session.place_of_service,
        started_at=started_at,
        duration_minutes=data.duration_minutes or session.actual_minutes,
        note_attested=True,  # attested at completion; an edit corrects the coding, not the note
    )


async def _lock_editable(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, session_id: uuid.UUID
) -> tuple[SessionOut, ClaimOut | None]:
    """The confirmed session inside its window and its claim (if any) still ready, both
    locked: the submission job skips a locked claim, and finds it edited once we commit."""
    session = await queries.lock_session(conn, session_id, owner_scope(actor))
    if session is None:
        raise SessionNotFound("therapy session not found")
    if session.status != "confirmed" or session.confirmed_at is None:
        raise WrongStatus(f"the session is {session.status}, not confirmed", field="status")
    closes = session.confirmed_at + timedelta(hours=settings.session_edit_window_hours)
    if clock.now() >= closes:
        raise EditWindowClosed(
            f"a session is edited within {settings.session_edit_window_hours} hours of its "
            f"confirmation; this one's window closed at {closes.isoformat()}",
            field="confirmed_at",
        )
    claim = await claims.lock_claim_of_session(conn, session.id)
    if claim is not None and claim.status != "ready":
        raise ClaimNotReady(
            f"the session's claim is {claim.status}: a submitted claim is corrected, not edited",
            field="status",
        )
    return session, claim


async def _reauthorize(
    conn: asyncpg.Connection,
    session: SessionOut,
    pricing: billing.Pricing,
    data: CompleteSessionIn,
) -> uuid.UUID | None:
    """The authorization the edited session uses: the same while it still covers the codes
    wanted on the date; else its visit goes back and a newly required one is used."""
    day = data.started_at.date()
    old = session.prior_authorization_id
    needed = completion.authorization_codes(pricing.payer, data) if pricing.payer else []
    if old is not None and needed and await covers(conn, old, needed, day):
        return old
    if old is not None:
        await return_visit(conn, old)
    if pricing.payer is None:
        return None
    return await completion.use_authorization(conn, session, pricing.payer, data, day)


def _signed(line: Line) -> int:
    return line.amount_cents if line.side == "debit" else -line.amount_cents


async def _adjust(
    conn: asyncpg.Connection,
    session: SessionOut,
    pricing: billing.Pricing,
    claim_id: uuid.UUID | None,
) -> None:
    """The entry that moves each account from what the session booked to what it now prices
    at; none when nothing changes. Keyed by the edit's number: a retry posts it once."""
    nets: defaultdict[tuple[object, uuid.UUID | None], int] = defaultdict(int)
    for line in billing.entry_lines(session, pricing, claim_id):
        nets[(line.account, line.claim_id)] += _signed(line)
    for line in await get_source_net(
        conn, _SOURCE, session.id, ["completion", "completion_edited"]
    ):
        nets[(line.account, line.claim_id)] -= _signed(line)
    lines = tuple(
        Line(
            account=account,  # type: ignore[arg-type]
            side="debit" if net > 0 else "credit",
            amount_cents=abs(net),
            claim_id=claim,
        )
        for (account, claim), net in nets.items()
        if net != 0
    )
    if not lines:
        return
    await post_entry(
        conn,
        EntryIn(
            kind="completion_edited",
            idempotency_key=f"completion-edit-{session.id}-{session.edit_count}",
            source_table=_SOURCE,
            source_id=session.id,
            lines=lines,
            memo="session coding edited",
            occurred_at=session.edited_at,
        ),
    )


async def edit_session(
    conn: asyncpg.Connection,
    settings: Settings,
    actor: Actor,
    session_id: uuid.UUID,
    data: EditSessionIn,
) -> CompletionOut:
    """Correct a confirmed session's coding: its provider or ops, within the edit window."""
    if all(getattr(data, field) is None for field in data.__struct_fields__):
        raise NothingToEdit("the edit names at least one field to change", field="body")
    session, claim = await _lock_editable(conn, settings, actor, session_id)
    await clients.require_caller(conn, actor)
    merged = _merged(session, await queries.list_lines(conn, session.id), claim, data)
    held = await queries.lock_held(conn, session.id)
    if held is not None and held.billing_hold is not None:
        raise CoverageChanged(
            "the session was held for ops to settle its coverage: ops correct it",
            field="policy_id",
        )
    codes, pricing = await completion.check_and_price(conn, settings, session, merged)
    if pricing.hold is not None or (pricing.payer is None) != (claim is None):
        raise CoverageChanged(
            "the session's coverage changed since it was confirmed (a claim would "
            + ("go" if claim else "appear")
            + "): ops settle it",
            field="policy_id",
        )
    authorization = await _reauthorize(conn, session, pricing, merged)
    edited = await queries.update_coding(conn, session.id, merged, codes, actor.user, authorization)
    await queries.delete_lines(conn, session.id)
    lines = await queries.insert_lines(conn, session.id, merged)
    await audit.record(conn, actor, "update", ENTITY, [session.id])
    if claim is not None:
        rewritten = billing.claim_in(edited, merged, pricing)
        assert rewritten is not None  # a payer priced it, and the session has its policy
        await claims.rewrite_claim(conn, actor, claim.id, rewritten)
    await _adjust(conn, edited, pricing, claim.id if claim else None)
    if pricing.payer is None:
        await record_self_pay_bill(conn, edited, merged.started_at.date(), pricing.client_cents)
    return CompletionOut(session=edited, lines=lines, claim_id=claim.id if claim else None)
