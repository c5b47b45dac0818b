"""Use cases of credentialing: open a record, move it through its states, read it, expire it.

requested -> submitted -> in_review -> approved | denied; approved -> expired (the daily job
at the end date, or ops recording an early termination). Reapplying after a denial or expiry,
and re-credentialing while the old record is still approved, open a new record, so each
approval keeps its own dates. Billing reads those dates (`is_credentialed`), never today's
status.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import asyncpg

from schemas.credentialing import (
    CredentialingDetailOut,
    CredentialingIn,
    CredentialingOut,
    CredentialingStatus,
    ExpiryRunOut,
    TransitionIn,
)
from services.core.auth import Actor
from services.core.pagination import Page, page_of
from services.core.scope import owner_scope
from services.credentialing import queries
from services.credentialing.errors import (
    CredentialingNotFound,
    InvalidDates,
    InvalidTransition,
    OpenRecordExists,
    UnknownReference,
)

ALLOWED: dict[str, frozenset[str]] = {
    "requested": frozenset({"submitted"}),
    "submitted": frozenset({"in_review"}),
    "in_review": frozenset({"approved", "denied"}),
    "approved": frozenset({"expired"}),
    "denied": frozenset(),
    "expired": frozenset(),
}
EXPIRY_REASON = "the credentialing end date has passed"


async def request_credentialing(
    conn: asyncpg.Connection, actor: Actor, data: CredentialingIn
) -> CredentialingOut:
    """Open a `requested` record for the provider x payer pair (ops)."""
    try:
        async with conn.transaction():  # savepoint: a refused FK must not end the request
            record = await queries.insert_record(conn, data.provider_id, data.payer_id)
    except asyncpg.ForeignKeyViolationError as exc:
        field = "payer_id" if "payer" in (exc.constraint_name or "") else "provider_id"
        raise UnknownReference(f"no such {field.removesuffix('_id')}", field=field) from exc
    if record is None:
        raise OpenRecordExists(
            "this provider already has an open credentialing record with this payer",
            field="payer_id",
        )
    reason = data.reason or "credentialing requested"
    await queries.insert_event(conn, record.id, None, "requested", actor.user_id, reason)
    return record


def _dates_for(current: CredentialingOut, data: TransitionIn) -> tuple[date | None, date | None]:
    """The record's dates after the transition, or a 422 naming the offending field."""
    if data.to_status == "approved":
        if data.effective_on is None:
            raise InvalidDates("approving needs effective_on", field="effective_on")
        if data.ends_on is None:
            raise InvalidDates("approving needs ends_on", field="ends_on")
        if data.effective_on > data.ends_on:
            raise InvalidDates("ends_on is before effective_on", field="ends_on")
        return data.effective_on, data.ends_on
    if data.effective_on is not None:
        raise InvalidDates("effective_on is set only when approving", field="effective_on")
    if data.to_status == "expired":
        # Ops may record an early termination: the end date can move earlier, never later.
        assert current.effective_on is not None
        assert current.ends_on is not None
        ends_on = data.ends_on or current.ends_on
        if not current.effective_on <= ends_on <= current.ends_on:
            raise InvalidDates(
                "an expiry may only move ends_on earlier, not before effective_on",
                field="ends_on",
            )
        return current.effective_on, ends_on
    if data.ends_on is not None:
        raise InvalidDates("ends_on is set only when approving or expiring", field="ends_on")
    return current.effective_on, current.ends_on


async def transition(
    conn: asyncpg.Connection, actor: Actor, record_id: uuid.UUID, data: TransitionIn
) -> CredentialingDetailOut:
    """Move a record to `data.to_status` (ops); concurrent moves serialize on the row lock."""
    current = await queries.lock_record(conn, record_id)
    if current is None:
        raise CredentialingNotFound("credentialing record not found")
    if data.to_status not in ALLOWED[current.status]:
        raise InvalidTransition(
            f"cannot move a credentialing record from {current.status} to {data.to_status}",
            field="to_status",
        )
    effective_on, ends_on = _dates_for(current, data)
    await queries.update_record_status(conn, record_id, data.to_status, effective_on, ends_on)
    await queries.insert_event(
        conn, record_id, current.status, data.to_status, actor.user_id, data.reason
    )
    return await get_record(conn, actor, record_id)


async def get_record(
    conn: asyncpg.Connection, actor: Actor, record_id: uuid.UUID
) -> CredentialingDetailOut:
    """One record with its full history (ops, or the provider it belongs to)."""
    record = await queries.get_record(conn, record_id, owner_scope(actor).provider_id)
    if record is None:
        raise CredentialingNotFound("credentialing record not found")
    events = await queries.list_events(conn, record_id)
    return CredentialingDetailOut(
        id=record.id,
        provider_id=record.provider_id,
        payer_id=record.payer_id,
        status=record.status,
        effective_on=record.effective_on,
        ends_on=record.ends_on,
        expiry_warned_at=record.expiry_warned_at,
        created_at=record.created_at,
        updated_at=record.updated_at,
        events=events,
    )


async def list_records(
    conn: asyncpg.Connection,
    actor: Actor,
    filters: tuple[uuid.UUID | None, uuid.UUID | None, CredentialingStatus | None, bool],
    limit: int,
    cursor: str | None,
) -> Page[CredentialingOut]:
    """Ops: every record; a provider: only their own. Filters: provider, payer, status, expiring."""
    owner = owner_scope(actor).provider_id
    return await page_of(
        lambda after, n: queries.list_records(conn, owner, filters, after, n), cursor, limit
    )


async def is_credentialed(
    conn: asyncpg.Connection, provider_id: uuid.UUID, payer_id: uuid.UUID, on: date
) -> bool:
    """Whether an approval (current or since expired) covers `on`: billing reads dates only."""
    return await queries.get_credentialed(conn, provider_id, payer_id, on)


async def run_expiry(conn: asyncpg.Connection, today: date, warn_days: int) -> ExpiryRunOut:
    """Expire approvals that ended before `today`; flag, once, those ending within warn_days."""
    expired = await queries.update_expire_ended(conn, today, EXPIRY_REASON)
    warned = await queries.update_flag_expiring(conn, today, today + timedelta(days=warn_days))
    return ExpiryRunOut(expired=expired, warned=warned)
