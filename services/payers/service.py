"""Use cases of payers and fee schedules."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import msgspec

from schemas.payers import (
    FeeScheduleIn,
    FeeScheduleOut,
    FeeScheduleRate,
    FeeScheduleRateOut,
    PayerIn,
    PayerOut,
    PayerPatch,
)
from services.core.auth import Actor
from services.core.pagination import After, Page, page_of
from services.payers import queries
from services.payers.errors import (
    BadFeeSchedule,
    FeeScheduleNotFound,
    FeeScheduleOverlap,
    PayerIdTaken,
    PayerNotFound,
)

# Fee schedule dates outside these are typing mistakes, and year 9999 + 1 day would not even
# come back out of the database as a Python date.
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2100, 12, 31)

FeeScheduleView = FeeScheduleOut | FeeScheduleRateOut


def _normalized_codes(codes: list[str]) -> list[str]:
    return sorted(set(codes))


def _taken(x12_payer_id: str) -> PayerIdTaken:
    return PayerIdTaken(
        f"a payer with X12 payer id {x12_payer_id} already exists", field="x12_payer_id"
    )


async def create_payer(conn: asyncpg.Connection, data: PayerIn) -> PayerOut:
    x12_payer_id = data.x12_payer_id.upper()
    payer = await queries.insert_payer(
        conn,
        data.name,
        x12_payer_id,
        data.timely_filing_days,
        data.telehealth_modifier,
        _normalized_codes(data.prior_auth_cpt_codes),
        data.claim_filing_indicator,
        data.appeal_window_days,
    )
    if payer is None:
        raise _taken(x12_payer_id)
    return payer


async def update_payer(
    conn: asyncpg.Connection, payer_id: uuid.UUID, patch: PayerPatch
) -> PayerOut:
    """Change only the fields sent; an empty patch changes nothing."""
    payer = await queries.lock_payer(conn, payer_id)
    if payer is None:
        raise PayerNotFound("payer not found")
    changes = {
        name: value
        for name in PayerPatch.__struct_fields__
        if (value := getattr(patch, name)) is not msgspec.UNSET
    }
    if not changes:
        return payer
    if "x12_payer_id" in changes:
        changes["x12_payer_id"] = changes["x12_payer_id"].upper()
    if "prior_auth_cpt_codes" in changes:
        changes["prior_auth_cpt_codes"] = _normalized_codes(changes["prior_auth_cpt_codes"])
    updated = msgspec.structs.replace(payer, **changes)
    try:
        async with conn.transaction():  # a savepoint: the refusal leaves the request usable
            return await queries.update_payer(conn, updated)
    except asyncpg.UniqueViolationError as exc:
        raise _taken(updated.x12_payer_id) from exc


async def get_payer(conn: asyncpg.Connection, payer_id: uuid.UUID) -> PayerOut:
    payer = await queries.get_payer(conn, payer_id)
    if payer is None:
        raise PayerNotFound("payer not found")
    return payer


async def list_payers(
    conn: asyncpg.Connection, name_contains: str | None, limit: int, cursor: str | None
) -> Page[PayerOut]:
    return await page_of(
        lambda after, n: queries.list_payers(conn, name_contains, after, n), cursor, limit
    )


def _check_date(value: date, field: str) -> None:
    if not MIN_DATE <= value <= MAX_DATE:
        raise BadFeeSchedule(f"{field} must be between {MIN_DATE} and {MAX_DATE}", field=field)


def _describe(row: FeeScheduleOut) -> str:
    code = row.cpt_code + (f"-{row.modifier}" if row.modifier else "")
    until = row.effective_to.isoformat() if row.effective_to else "open-ended"
    return f"fee schedule {row.id} for {code}, effective {row.effective_from} to {until}"


def _overlap(effective_from: date, effective_to: date | None, other: str) -> FeeScheduleOverlap:
    until = effective_to.isoformat() if effective_to else "open-ended"
    return FeeScheduleOverlap(
        f"{effective_from} to {until} overlaps {other}; end that one first",
        field="effective_from",
    )


def _validate(data: FeeScheduleIn) -> None:
    _check_date(data.effective_from, "effective_from")
    if data.effective_to is not None:
        _check_date(data.effective_to, "effective_to")
        if data.effective_to < data.effective_from:
            raise BadFeeSchedule(
                "effective_to must not be before effective_from", field="effective_to"
            )
    if data.provider_rate_cents > data.allowed_cents:
        raise BadFeeSchedule(
            "provider_rate_cents must not exceed allowed_cents", field="provider_rate_cents"
        )


async def create_fee_schedule(
    conn: asyncpg.Connection, actor: Actor, payer_id: uuid.UUID, data: FeeScheduleIn
) -> FeeScheduleOut:
    """Add a dated rate; 409 fee_schedule_overlap when it meets another row of the same key."""
    _validate(data)
    await get_payer(conn, payer_id)
    modifier = data.modifier or ""
    await queries.insert_fee_schedule_key(conn, payer_id, data.cpt_code, modifier)
    # The key's row lock queues concurrent writers of one key, so the second sees the first's
    # committed row here and gets a readable refusal; the exclusion constraint is the last line.
    key_id = await queries.lock_fee_schedule_key(conn, payer_id, data.cpt_code, modifier)
    assert key_id is not None
    clash = await queries.get_overlapping_fee_schedule(
        conn, key_id, data.effective_from, data.effective_to
    )
    if clash is not None:
        raise _overlap(data.effective_from, data.effective_to, _describe(clash))
    try:
        async with conn.transaction():
            fee_schedule_id = await queries.insert_fee_schedule(
                conn,
                key_id,
                data.effective_from,
                data.effective_to,
                data.allowed_cents,
                data.provider_rate_cents,
                actor.user,
            )
    except asyncpg.ExclusionViolationError as exc:
        raise _overlap(
            data.effective_from, data.effective_to, "another fee schedule of this code"
        ) from exc
    row = await queries.get_fee_schedule(conn, payer_id, fee_schedule_id)
    assert row is not None
    return row


async def end_fee_schedule(
    conn: asyncpg.Connection,
    actor: Actor,
    payer_id: uuid.UUID,
    fee_schedule_id: uuid.UUID,
    effective_to: date,
) -> FeeScheduleOut:
    """Move the last day earlier (never later, never before the first day)."""
    row = await queries.lock_fee_schedule(conn, payer_id, fee_schedule_id)
    if row is None:
        raise FeeScheduleNotFound("fee schedule not found")
    _check_date(effective_to, "effective_to")
    if effective_to < row.effective_from:
        raise BadFeeSchedule(
            f"effective_to must not be before the schedule's start, {row.effective_from}",
            field="effective_to",
        )
    if row.effective_to is not None and effective_to >= row.effective_to:
        raise BadFeeSchedule(
            f"ending may only shorten the schedule: it already ends on {row.effective_to}",
            code="fee_schedule_end_not_shorter",
            field="effective_to",
        )
    await queries.update_end_fee_schedule(conn, fee_schedule_id, effective_to, actor.user)
    ended = await queries.get_fee_schedule(conn, payer_id, fee_schedule_id)
    assert ended is not None
    return ended


def _view(actor: Actor, row: FeeScheduleOut) -> FeeScheduleView:
    """Providers see their rate; the payer's allowed amount and who edited it stay with ops."""
    if actor.role == "ops":
        return row
    return FeeScheduleRateOut(
        id=row.id,
        payer_id=row.payer_id,
        cpt_code=row.cpt_code,
        modifier=row.modifier,
        provider_rate_cents=row.provider_rate_cents,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
    )


async def get_fee_schedule(
    conn: asyncpg.Connection, actor: Actor, payer_id: uuid.UUID, fee_schedule_id: uuid.UUID
) -> FeeScheduleView:
    row = await queries.get_fee_schedule(conn, payer_id, fee_schedule_id)
    if row is None:
        raise FeeScheduleNotFound("fee schedule not found")
    return _view(actor, row)


async def list_fee_schedules(
    conn: asyncpg.Connection,
    actor: Actor,
    payer_id: uuid.UUID,
    cpt_code: str | None,
    as_of: date | None,
    limit: int,
    cursor: str | None,
) -> Page[FeeScheduleView]:

    async def fetch(after: After | None, n: int) -> list[FeeScheduleOut]:
        # After the cursor is decoded, as it always was: a bad cursor is 400 for any payer id.
        await get_payer(conn, payer_id)
        return await queries.list_fee_schedules(conn, payer_id, cpt_code, as_of, after, n)

    page = await page_of(fetch, cursor, limit)
    return page.map(lambda r: _view(actor, r))


async def get_rate(
    conn: asyncpg.Connection, payer_id: uuid.UUID, cpt_code: str, modifier: str | None, on: date
) -> FeeScheduleRate | None:
    """The fee schedule row of payer x code x modifier whose range covers `on`, or None.

    A modifier (e.g. telehealth '95') with no row of its own covering `on` falls back to the
    code's no-modifier row for that date; an exact modifier row always wins. `modifier` ''
    or None asks for the no-modifier row only. Ranges are inclusive at both ends.
    """
    return await queries.get_rate(conn, payer_id, cpt_code, modifier or "", on)
