"""The denial work queue and appeals (issue 16 item 5; DESIGN.md "Denial", "Timely filing").

A denial is a remitted claim the 835 denied, or paid with a line denied (a loss): its id is
the remitted claim's. It is open while it stands (not reversed), has no resolution, and its
claim was not replaced or voided through /claims since (that counts as resubmitted or
voided). Ops resolve it once, in one transaction: resubmit (the claims domain's replacement,
frequency 7), void (frequency 8), write off (the loss posting booked stays), or appeal (a
record with its deadline, status and notes). Actions on one denial are serialized by a lock
on it, and denial_resolutions' UNIQUE key is the last line against a second one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import asyncpg

from schemas.claims import ClaimCorrectionIn, ClaimVoidIn, CorrectionOut
from schemas.denials import (
    AppealedOut,
    AppealIn,
    AppealNoteIn,
    AppealNoteOut,
    AppealOut,
    AppealPatch,
    AppealRow,
    AppealStatus,
    CorrectedOut,
    DenialDetailOut,
    DenialEventOut,
    DenialGroupOut,
    DenialItemOut,
    DenialQueueOut,
    DenialRow,
    DenialState,
    ResolutionAction,
    ResolutionOut,
    WriteOffIn,
)
from services.claims import corrections
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pagination import After, Page, decode_cursor, make_page, page_of
from services.denials import queries
from services.denials.errors import (
    AppealNotFound,
    AppealTransition,
    BadAppealDeadline,
    CursorNeedsReason,
    DenialNotFound,
    DenialResolved,
    DenialReversed,
)
from services.denials.queries import ResolutionRow
from services.remittance.service import list_adjustments_of

DENIAL_ENTITY = "remitted_claim"
RESOLUTION_ENTITY = "denial_resolution"
APPEAL_ENTITY = "claim_appeal"
# open -> submitted -> won | lost | withdrawn; an appeal not yet sent may be withdrawn.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"won", "lost", "withdrawn"}),
}
MAX_DEADLINE_DAYS = 3650


async def _items(conn: asyncpg.Connection, rows: list[DenialRow]) -> list[DenialItemOut]:
    """The denials with their adjustments, read in one query."""
    adjustments = await list_adjustments_of(conn, [r.id for r in rows])
    return [DenialItemOut(denial=r, adjustments=adjustments[r.id]) for r in rows]


async def list_queue(
    conn: asyncpg.Connection,
    actor: Actor,
    payer_id: uuid.UUID | None,
    reason: str | None,
    cursor: str | None,
    limit: int,
) -> DenialQueueOut:
    """Open denials grouped by reason (the largest group first), each group's oldest first."""
    if cursor is not None and reason is None:
        raise CursorNeedsReason(
            "a cursor pages inside one group: give its reason too", field="cursor"
        )
    after = decode_cursor(cursor)
    groups = await queries.list_groups(conn, payer_id, reason)
    rows = await queries.list_open(conn, payer_id, reason, after, limit + 1)
    by_reason: dict[str, list[DenialRow]] = defaultdict(list)
    for row in rows:
        by_reason[row.reason].append(row)
    pages = {g.reason: make_page(by_reason[g.reason], limit) for g in groups}
    items = await _items(conn, [row for page in pages.values() for row in page.items])
    by_id = {item.denial.id: item for item in items}
    out = [
        DenialGroupOut(
            reason=g.reason, count=g.count, denied_cents=g.denied_cents, loss_cents=g.loss_cents,
            items=[by_id[row.id] for row in pages[g.reason].items],
            next_cursor=pages[g.reason].next_cursor,
        )
        for g in groups
    ]  # fmt: skip
    await audit.record(conn, actor, "read", DENIAL_ENTITY, list(by_id))
    return DenialQueueOut(groups=out)


def _resolution_out(denial: DenialRow, row: ResolutionRow | None) -> ResolutionOut | None:
    """The queue's resolution, else a replacement or void made through /claims since."""
    if row is not None:
        return ResolutionOut(
            id=row.id, remitted_claim_id=row.remitted_claim_id, claim_id=row.claim_id,
            action=row.action, note=row.note, submission_id=row.submission_id,
            appeal_id=row.appeal_id, resolved_by=row.resolved_by, resolved_at=row.resolved_at,
            via="denial_queue",
        )  # fmt: skip
    if denial.superseded_by is None or denial.superseded_at is None:
        return None
    return ResolutionOut(
        id=None, remitted_claim_id=denial.id, claim_id=denial.claim_id,
        action="resubmitted" if denial.superseded_frequency == "7" else "voided", note=None,
        submission_id=denial.superseded_by, appeal_id=None, resolved_by=None,
        resolved_at=denial.superseded_at, via="claims",
    )  # fmt: skip


def _state(denial: DenialRow, resolution: ResolutionOut | None) -> DenialState:
    if resolution is not None:
        return "resolved"
    return "reversed" if denial.reversed else "open"


async def _found(conn: asyncpg.Connection, remitted_claim_id: uuid.UUID) -> DenialRow:
    denial = await queries.get_denial(conn, remitted_claim_id)
    if denial is None:
        raise DenialNotFound("denial not found")
    return denial


async def _appeal_out(conn: asyncpg.Connection, appeal: AppealRow) -> AppealOut:
    return AppealOut(appeal=appeal, notes=await queries.list_notes(conn, appeal.id))


def _history(
    denial: DenialRow, resolution: ResolutionOut | None, appeal: AppealOut | None
) -> list[DenialEventOut]:
    events = [
        DenialEventOut(
            at=denial.created_at, kind="denied", actor_id=None,
            detail=f"835 {denial.trace_number} paid {denial.payment_date}: CLP02"
            f" {denial.status_code}, {denial.outcome.replace('_', ' ')}, reason {denial.reason}",
        )
    ]  # fmt: skip
    if resolution is not None:
        detail = resolution.action.replace("_", " ")
        detail += f": {resolution.note}" if resolution.note else " through /claims"
        events.append(
            DenialEventOut(
                at=resolution.resolved_at, kind="resolved", actor_id=resolution.resolved_by,
                detail=detail,
            )
        )  # fmt: skip
    for note in appeal.notes if appeal is not None else []:
        if note.kind == "status":
            kind: Literal["appeal_status", "appeal_note"] = "appeal_status"
            detail = f"appeal {note.from_status or 'opened'} -> {note.to_status}"
            detail += f": {note.body}" if note.body else ""
        else:
            kind, detail = "appeal_note", note.body or ""
        events.append(DenialEventOut(at=note.at, kind=kind, actor_id=note.author_id, detail=detail))
    return events


async def get_denial(
    conn: asyncpg.Connection, actor: Actor, remitted_claim_id: uuid.UUID
) -> DenialDetailOut:
    """A denial with its resolution, appeal and history, whatever its state."""
    denial = await _found(conn, remitted_claim_id)
    row = await queries.get_resolution(conn, denial.id)
    resolution = _resolution_out(denial, row)
    appeal = None
    if row is not None and row.appeal_id is not None:
        found = await queries.get_appeal(conn, row.appeal_id)
        assert found is not None  # resolutions reference their appeal
        appeal = await _appeal_out(conn, found)
    (item,) = await _items(conn, [denial])
    await audit.record(conn, actor, "read", DENIAL_ENTITY, [denial.id])
    return DenialDetailOut(
        item=item, state=_state(denial, resolution), resolution=resolution, appeal=appeal,
        history=_history(denial, resolution, appeal),
    )  # fmt: skip


async def _open_denial(conn: asyncpg.Connection, remitted_claim_id: uuid.UUID) -> DenialRow:
    """The denial, locked, if it is still open; 409 naming what closed it otherwise."""
    await queries.lock_denial(conn, remitted_claim_id)
    denial = await _found(conn, remitted_claim_id)
    resolution = _resolution_out(denial, await queries.get_resolution(conn, denial.id))
    if resolution is not None:
        made = resolution.appeal_id or resolution.submission_id
        raise DenialResolved(
            f"the denial was already resolved: {resolution.action.replace('_', ' ')}"
            f" on {resolution.resolved_at.date()}"
            + (f" ({made})" if made else "")
            + (" through /claims" if resolution.via == "claims" else ""),
            field="remitted_claim_id",
        )
    if denial.reversed:
        raise DenialReversed(
            "the payer reversed this adjudication: its correction is what stands now",
            field="remitted_claim_id",
        )
    return denial


async def _resolve(
    conn: asyncpg.Connection,
    actor: Actor,
    denial: DenialRow,
    action: ResolutionAction,
    note: str,
    made: tuple[uuid.UUID | None, uuid.UUID | None],
) -> ResolutionOut:
    row = await queries.insert_resolution(
        conn, denial.id, denial.claim_id, action, note, made, actor.user, clock.now()
    )
    await audit.record(conn, actor, "create", RESOLUTION_ENTITY, [row.id])
    resolution = _resolution_out(denial, row)
    assert resolution is not None
    return resolution


async def resubmit(
    conn: asyncpg.Connection, actor: Actor, remitted_claim_id: uuid.UUID, data: ClaimCorrectionIn
) -> CorrectedOut:
    """The corrected claim sent as a replacement (frequency 7); the denial resolved."""
    return await _correct(
        conn, actor, remitted_claim_id, ("resubmitted", data.reason),
        lambda claim_id: corrections.replace_claim(conn, actor, claim_id, data),
    )  # fmt: skip


async def void(
    conn: asyncpg.Connection, actor: Actor, remitted_claim_id: uuid.UUID, data: ClaimVoidIn
) -> CorrectedOut:
    """The claim withdrawn (frequency 8); the denial resolved."""
    return await _correct(
        conn, actor, remitted_claim_id, ("voided", data.reason),
        lambda claim_id: corrections.void_claim(conn, actor, claim_id, data),
    )  # fmt: skip


async def _correct(
    conn: asyncpg.Connection,
    actor: Actor,
    remitted_claim_id: uuid.UUID,
    resolution: tuple[ResolutionAction, str],
    correct: Callable[[uuid.UUID], Awaitable[CorrectionOut]],
) -> CorrectedOut:
    """The claims domain's correction of the denied claim, and the denial resolved by it."""
    denial = await _open_denial(conn, remitted_claim_id)
    correction = await correct(denial.claim_id)
    action, note = resolution
    made = (correction.version.id, None)
    resolved = await _resolve(conn, actor, denial, action, note, made)
    return CorrectedOut(resolution=resolved, correction=correction)


async def write_off(
    conn: asyncpg.Connection, actor: Actor, remitted_claim_id: uuid.UUID, data: WriteOffIn
) -> ResolutionOut:
    """The denial closed as a loss: what posting booked to claim_losses stays, no new entry."""
    denial = await _open_denial(conn, remitted_claim_id)
    return await _resolve(conn, actor, denial, "written_off", data.note, (None, None))


def _deadline(denial: DenialRow, asked: date | None) -> tuple[date, str]:
    """The appeal's deadline: the one ops give, else the payer's window from the payment."""
    today = clock.today()
    if asked is not None:
        if asked < today:
            raise BadAppealDeadline(f"the deadline {asked} is past", field="deadline")
        if asked > today + timedelta(days=MAX_DEADLINE_DAYS):
            raise BadAppealDeadline(
                f"the deadline is more than {MAX_DEADLINE_DAYS} days away", field="deadline"
            )
        return asked, "ops"
    if denial.appeal_deadline < today:
        raise BadAppealDeadline(
            f"the payer's appeal window closed on {denial.appeal_deadline}: give the deadline"
            " the payer granted, if it did",
            field="deadline",
        )
    return denial.appeal_deadline, "payer_window"


async def open_appeal(
    conn: asyncpg.Connection, actor: Actor, remitted_claim_id: uuid.UUID, data: AppealIn
) -> AppealedOut:
    """An appeal of the denial, open, with its deadline and first note; the denial resolved."""
    denial = await _open_denial(conn, remitted_claim_id)
    now = clock.now()
    appeal = await queries.insert_appeal(
        conn, denial.claim_id, denial.id, _deadline(denial, data.deadline), actor.user, now
    )
    await queries.insert_note(conn, appeal.id, data.note, (None, "open"), actor.user, now)
    await audit.record(conn, actor, "create", APPEAL_ENTITY, [appeal.id])
    resolution = await _resolve(conn, actor, denial, "appealed", data.note, (None, appeal.id))
    return AppealedOut(resolution=resolution, appeal=await _appeal_out(conn, appeal))


async def get_appeal(conn: asyncpg.Connection, actor: Actor, appeal_id: uuid.UUID) -> AppealOut:
    appeal = await queries.get_appeal(conn, appeal_id)
    if appeal is None:
        raise AppealNotFound("appeal not found")
    await audit.record(conn, actor, "read", APPEAL_ENTITY, [appeal.id])
    return await _appeal_out(conn, appeal)


async def _locked_appeal(conn: asyncpg.Connection, appeal_id: uuid.UUID) -> AppealRow:
    appeal = await queries.lock_appeal(conn, appeal_id)
    if appeal is None:
        raise AppealNotFound("appeal not found")
    return appeal


async def update_appeal(
    conn: asyncpg.Connection, actor: Actor, appeal_id: uuid.UUID, data: AppealPatch
) -> AppealOut:
    """Move the appeal on (open -> submitted -> won | lost | withdrawn), with a note."""
    appeal = await _locked_appeal(conn, appeal_id)
    allowed = TRANSITIONS.get(appeal.status, frozenset())
    if data.status not in allowed:
        then = " or ".join(sorted(allowed)) if allowed else "nothing: it is closed"
        raise AppealTransition(
            f"the appeal is {appeal.status}: it may move to {then}, not {data.status}",
            field="status",
        )
    now = clock.now()
    updated = await queries.update_appeal_status(conn, appeal.id, data.status, actor.user, now)
    change = (appeal.status, data.status)
    await queries.insert_note(conn, appeal.id, data.note, change, actor.user, now)
    await audit.record(conn, actor, "update", APPEAL_ENTITY, [appeal.id])
    return await _appeal_out(conn, updated)


async def add_note(
    conn: asyncpg.Connection, actor: Actor, appeal_id: uuid.UUID, data: AppealNoteIn
) -> AppealNoteOut:
    """A note appended to the appeal (whatever its status: notes are its record)."""
    appeal = await _locked_appeal(conn, appeal_id)
    note = await queries.insert_note(conn, appeal.id, data.note, None, actor.user, clock.now())
    await audit.record(conn, actor, "update", APPEAL_ENTITY, [appeal.id])
    return note


def _cursor_key(appeal: AppealRow) -> After:
    # The cursor holds an instant: the deadline's midnight UTC stands for the day.
    return datetime.combine(appeal.deadline, time(), UTC), appeal.id


async def list_appeals(
    conn: asyncpg.Connection,
    actor: Actor,
    status: AppealStatus | None,
    due_before: date | None,
    cursor: str | None,
    limit: int,
) -> Page[AppealRow]:
    """Appeals, soonest deadline first; by status, and due before a day."""
    page = await page_of(
        lambda after, n: queries.list_appeals(
            conn,
            status,
            due_before,
            None if after is None else (after[0].astimezone(UTC).date(), after[1]),
            n,
        ),
        cursor,
        limit,
        key=_cursor_key,
    )
    await audit.record(conn, actor, "read", APPEAL_ENTITY, [a.id for a in page.items])
    return page
