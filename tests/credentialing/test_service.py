"""The credentialing state machine, open-record uniqueness, is_credentialed and expiry."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

import asyncpg
import pytest

from schemas.credentialing import CredentialingIn, TransitionIn
from services.core.auth import Actor
from services.core.settings import Settings
from services.credentialing.errors import (
    InvalidDates,
    InvalidTransition,
    OpenRecordExists,
    UnknownReference,
)
from services.credentialing.service import (
    ALLOWED,
    EXPIRY_REASON,
    get_record,
    is_credentialed,
    request_credentialing,
    run_expiry,
    transition,
)
from tests.factories import make_ops, make_payer, make_provider

STATUSES = ["requested", "submitted", "in_review", "approved", "denied", "expired"]
# The valid path that leads to each status from a new record.
PATHS = {
    "requested": [],
    "submitted": ["submitted"],
    "in_review": ["submitted", "in_review"],
    "approved": ["submitted", "in_review", "approved"],
    "denied": ["submitted", "in_review", "denied"],
    "expired": ["submitted", "in_review", "approved", "expired"],
}
VALID = {
    ("requested", "submitted"),
    ("submitted", "in_review"),
    ("in_review", "approved"),
    ("in_review", "denied"),
    ("approved", "expired"),
}
START, END = date(2026, 1, 1), date(2026, 12, 31)


def move(to: str, **dates: date) -> TransitionIn:
    if to == "approved":
        dates = {"effective_on": START, "ends_on": END, **dates}
    return TransitionIn(to_status=to, reason=f"to {to}", **dates)  # type: ignore[arg-type]


async def _arrange(
    db: asyncpg.Connection, settings: Settings
) -> tuple[Actor, uuid.UUID, uuid.UUID]:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    assert provider.provider_id is not None
    return ops, provider.provider_id, (await make_payer(db)).id


async def _record_in(
    db: asyncpg.Connection, ops: Actor, provider_id: uuid.UUID, payer_id: uuid.UUID, status: str
) -> uuid.UUID:
    record = await request_credentialing(
        db, ops, CredentialingIn(provider_id=provider_id, payer_id=payer_id)
    )
    for step in PATHS[status]:
        await transition(db, ops, record.id, move(step))
    return record.id


def test_the_table_matches_the_design() -> None:
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == VALID


@pytest.mark.parametrize(("from_status", "to_status"), list(itertools.product(STATUSES, STATUSES)))
async def test_every_transition_of_the_matrix(
    db: asyncpg.Connection, settings: Settings, from_status: str, to_status: str
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    record_id = await _record_in(db, ops, provider_id, payer_id, from_status)
    before = await get_record(db, ops, record_id)
    if (from_status, to_status) in VALID:
        after = await transition(db, ops, record_id, move(to_status))
        assert after.status == to_status
        last = after.events[-1]
        assert (last.from_status, last.to_status) == (from_status, to_status)
        assert last.actor_user_id == ops.user_id
        assert last.reason == f"to {to_status}"
        assert len(after.events) == len(before.events) + 1
    else:
        with pytest.raises(InvalidTransition) as refused:
            await transition(db, ops, record_id, move(to_status))
        assert refused.value.status == 409
        assert f"from {from_status} to {to_status}" in refused.value.detail
        assert await get_record(db, ops, record_id) == before


async def test_history_starts_with_creation_and_keeps_approval_dates(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    record_id = await _record_in(db, ops, provider_id, payer_id, "approved")
    record = await get_record(db, ops, record_id)
    assert (record.effective_on, record.ends_on) == (START, END)
    assert [(e.from_status, e.to_status) for e in record.events] == [
        (None, "requested"),
        ("requested", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "approved"),
    ]


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"effective_on": None}, "effective_on"),
        ({"ends_on": None}, "ends_on"),
        ({"effective_on": date(2026, 6, 2), "ends_on": date(2026, 6, 1)}, "ends_on"),
    ],
)
async def test_approval_needs_ordered_dates(
    db: asyncpg.Connection, settings: Settings, dates: dict[str, date | None], field: str
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    record_id = await _record_in(db, ops, provider_id, payer_id, "in_review")
    data = TransitionIn(
        to_status="approved",
        reason="ok",
        effective_on=dates.get("effective_on", START),
        ends_on=dates.get("ends_on", END),
    )
    with pytest.raises(InvalidDates) as refused:
        await transition(db, ops, record_id, data)
    assert refused.value.field == field
    assert (await get_record(db, ops, record_id)).status == "in_review"


async def test_dates_are_refused_outside_approval_and_expiry_only_shortens(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    record_id = await _record_in(db, ops, provider_id, payer_id, "requested")
    with pytest.raises(InvalidDates):
        await transition(db, ops, record_id, move("submitted", ends_on=END))
    approved = await _record_in(db, ops, provider_id, (await make_payer(db)).id, "approved")
    for late in (date(2027, 1, 1), date(2025, 12, 31)):
        with pytest.raises(InvalidDates):
            await transition(db, ops, approved, move("expired", ends_on=late))
    ended = await transition(db, ops, approved, move("expired", ends_on=date(2026, 3, 31)))
    assert (ended.status, ended.effective_on, ended.ends_on) == (
        "expired",
        START,
        date(2026, 3, 31),
    )


async def test_one_open_record_per_provider_and_payer(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    pair = CredentialingIn(provider_id=provider_id, payer_id=payer_id)
    first = await request_credentialing(db, ops, pair)
    for status in ("requested", "submitted", "in_review"):
        if status != "requested":
            await transition(db, ops, first.id, move(status))
        with pytest.raises(OpenRecordExists):
            await request_credentialing(db, ops, pair)
    # Another payer is another pair.
    other = CredentialingIn(provider_id=provider_id, payer_id=(await make_payer(db)).id)
    await request_credentialing(db, ops, other)
    await transition(db, ops, first.id, move("denied"))
    reapplied = await request_credentialing(db, ops, pair)
    assert reapplied.id != first.id
    assert reapplied.status == "requested"


async def test_recredentialing_opens_a_new_record_while_the_old_stays_approved(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    old = await _record_in(db, ops, provider_id, payer_id, "approved")
    new = await _record_in(db, ops, provider_id, payer_id, "in_review")
    renewed = await transition(
        db,
        ops,
        new,
        move("approved", effective_on=date(2027, 1, 1), ends_on=date(2029, 12, 31)),
    )
    old_record = await get_record(db, ops, old)
    assert (old_record.status, old_record.effective_on, old_record.ends_on) == (
        "approved",
        START,
        END,
    )
    assert (renewed.effective_on, renewed.ends_on) == (date(2027, 1, 1), date(2029, 12, 31))
    assert await is_credentialed(db, provider_id, payer_id, date(2026, 7, 1))
    assert await is_credentialed(db, provider_id, payer_id, date(2028, 7, 1))


async def test_unknown_provider_or_payer_is_422_naming_it(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    for data, field in (
        (CredentialingIn(provider_id=uuid.uuid4(), payer_id=payer_id), "provider_id"),
        (CredentialingIn(provider_id=provider_id, payer_id=uuid.uuid4()), "payer_id"),
    ):
        with pytest.raises(UnknownReference) as refused:
            await request_credentialing(db, ops, data)
        assert refused.value.field == field
    # The savepoint kept the transaction usable.
    assert await db.fetchval("SELECT count(*) FROM credentialing_records") == 0


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2025, 12, 31), False),
        (START, True),
        (date(2026, 6, 15), True),
        (END, True),
        (date(2027, 1, 1), False),
    ],
)
async def test_is_credentialed_reads_the_dates(
    db: asyncpg.Connection, settings: Settings, on: date, expected: bool
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    await _record_in(db, ops, provider_id, payer_id, "approved")
    assert await is_credentialed(db, provider_id, payer_id, on) is expected
    # After expiry the dates still answer for past dates of service.
    await run_expiry(db, date(2027, 2, 1), 60)
    assert await is_credentialed(db, provider_id, payer_id, on) is expected
    assert not await is_credentialed(db, provider_id, (await make_payer(db)).id, on)


@pytest.mark.parametrize("status", ["requested", "submitted", "in_review", "denied"])
async def test_records_never_approved_credential_nothing(
    db: asyncpg.Connection, settings: Settings, status: str
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    await _record_in(db, ops, provider_id, payer_id, status)
    assert not await is_credentialed(db, provider_id, payer_id, date(2026, 6, 1))


async def test_expiry_run_expires_ended_flags_ending_and_is_idempotent(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    ended = await _record_in(db, ops, provider_id, payer_id, "approved")  # ends 2026-12-31
    soon = await _record_in(db, ops, provider_id, (await make_payer(db)).id, "in_review")
    await transition(db, ops, soon, move("approved", ends_on=date(2027, 3, 2)))
    later = await _record_in(db, ops, provider_id, (await make_payer(db)).id, "in_review")
    await transition(db, ops, later, move("approved", ends_on=date(2027, 3, 3)))

    run = await run_expiry(db, date(2027, 1, 1), 60)  # warn through 2027-03-02
    assert (run.expired, run.warned) == ([ended], [soon])
    again = await run_expiry(db, date(2027, 1, 1), 60)
    assert (again.expired, again.warned) == ([], [])
    record = await get_record(db, ops, ended)
    assert record.status == "expired"
    last = record.events[-1]
    assert (last.from_status, last.to_status, last.actor_user_id, last.reason) == (
        "approved",
        "expired",
        None,
        EXPIRY_REASON,
    )
    assert (await get_record(db, ops, soon)).expiry_warned_at is not None
    assert (await get_record(db, ops, later)).expiry_warned_at is None
    # The day a record ends it is still approved: it expires the day after.
    assert (await run_expiry(db, date(2027, 3, 2), 60)).expired == []
    assert (await run_expiry(db, date(2027, 3, 3), 60)).expired == [soon]


async def test_history_cannot_be_rewritten(db: asyncpg.Connection, settings: Settings) -> None:
    ops, provider_id, payer_id = await _arrange(db, settings)
    await _record_in(db, ops, provider_id, payer_id, "submitted")
    for statement in (
        "UPDATE credentialing_events SET reason = 'rewritten'",
        "DELETE FROM credentialing_events",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with db.transaction():
                await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM credentialing_events") == 2
