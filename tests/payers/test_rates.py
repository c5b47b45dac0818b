"""get_rate: the row covering a date of service, at its range's edges, and the modifier fallback."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

from schemas.payers import PayerOut
from services.core.auth import Actor
from services.payers import service
from tests.factories import make_fee, make_payer

D = date


@pytest.fixture
async def two_rates(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> tuple[uuid.UUID, uuid.UUID]:
    """90837: 150.00/110.00 over H1 2026, then 160.00/120.00 open-ended from 1 July."""
    first = await make_fee(db, ops, payer.id, effective_to=D(2026, 6, 30))
    second = await make_fee(
        db,
        ops,
        payer.id,
        effective_from=D(2026, 7, 1),
        allowed_cents=16000,
        provider_rate_cents=12000,
    )
    return first.id, second.id


@pytest.mark.parametrize(
    ("on", "which", "allowed"),
    [
        (D(2025, 12, 31), None, None),  # the day before the first row
        (D(2026, 1, 1), 0, 15000),  # first day
        (D(2026, 6, 30), 0, 15000),  # last day
        (D(2026, 7, 1), 1, 16000),  # the day after: the next row
        (D(2099, 12, 31), 1, 16000),  # open-ended
    ],
)
async def test_rate_at_range_edges(
    db: asyncpg.Connection,
    payer: PayerOut,
    two_rates: tuple[uuid.UUID, uuid.UUID],
    on: date,
    which: int | None,
    allowed: int | None,
) -> None:
    rate = await service.get_rate(db, payer.id, "90837", "", on)
    if which is None:
        assert rate is None
        return
    assert rate is not None
    assert rate.fee_schedule_id == two_rates[which]
    assert rate.allowed_cents == allowed
    assert rate.modifier == ""


async def test_the_day_after_an_ended_row_has_no_rate(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id)
    await service.end_fee_schedule(db, ops, payer.id, fee.id, D(2026, 3, 31))
    assert await service.get_rate(db, payer.id, "90837", None, D(2026, 3, 31)) is not None
    assert await service.get_rate(db, payer.id, "90837", None, D(2026, 4, 1)) is None


async def test_exact_modifier_wins_and_falls_back_to_no_modifier(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    base = await make_fee(db, ops, payer.id)
    tele = await make_fee(
        db,
        ops,
        payer.id,
        modifier="95",
        effective_to=D(2026, 3, 31),
        allowed_cents=14000,
        provider_rate_cents=10000,
    )
    exact = await service.get_rate(db, payer.id, "90837", "95", D(2026, 2, 1))
    assert exact is not None
    assert (exact.fee_schedule_id, exact.modifier, exact.allowed_cents) == (tele.id, "95", 14000)
    # After the 95 row ends, and for a modifier with no row at all, the plain row applies.
    for modifier, on in (("95", D(2026, 4, 1)), ("GT", D(2026, 2, 1))):
        fallback = await service.get_rate(db, payer.id, "90837", modifier, on)
        assert fallback is not None
        assert (fallback.fee_schedule_id, fallback.modifier) == (base.id, "")
    # No modifier asks for the plain row only: a modifier row never stands in for it.
    only_tele = await make_fee(db, ops, payer.id, cpt_code="90834", modifier="95")
    assert await service.get_rate(db, payer.id, "90834", "", D(2026, 2, 1)) is None
    hit = await service.get_rate(db, payer.id, "90834", "95", D(2026, 2, 1))
    assert hit is not None
    assert hit.fee_schedule_id == only_tele.id


async def test_rate_is_per_payer_and_code(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    await make_fee(db, ops, payer.id)
    other = await make_payer(db)
    assert await service.get_rate(db, other.id, "90837", "", D(2026, 2, 1)) is None
    assert await service.get_rate(db, payer.id, "90834", "", D(2026, 2, 1)) is None
    rate = await service.get_rate(db, payer.id, "90837", "", D(2026, 2, 1))
    assert rate is not None
    assert (rate.payer_id, rate.cpt_code, rate.provider_rate_cents) == (payer.id, "90837", 11000)
    assert (rate.effective_from, rate.effective_to) == (D(2026, 1, 1), None)
