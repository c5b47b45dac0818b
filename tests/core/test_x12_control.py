"""X12 control numbers: drawn from the shared sequences, unique, increasing, valid ISA13/GS06."""

from __future__ import annotations

import asyncpg

from services.core.x12 import ControlNumbers
from services.core.x12_control import next_control_numbers


async def test_each_file_gets_fresh_increasing_numbers(db: asyncpg.Connection) -> None:
    drawn = [await next_control_numbers(db) for _ in range(5)]
    interchanges = [isa for isa, _ in drawn]
    groups = [gs for _, gs in drawn]
    assert interchanges == sorted(set(interchanges))
    assert groups == sorted(set(groups))
    for isa, gs in drawn:
        ControlNumbers(interchange=isa, group=gs)  # within 1..999999999


async def test_a_rolled_back_transaction_does_not_give_its_numbers_back(
    db: asyncpg.Connection,
) -> None:
    tx = db.transaction()
    await tx.start()
    taken, _ = await next_control_numbers(db)
    await tx.rollback()
    after, _ = await next_control_numbers(db)
    assert after > taken
