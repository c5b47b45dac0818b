"""Two ops adding overlapping fee schedules at the same moment: exactly one wins."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import pytest

from services.core.auth import Actor
from services.core.db import init_connection, run_in_transaction
from services.core.errors import Conflict
from services.payers import service
from tests.factories import fee_in, make_actor, payer_in


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    return conn


@pytest.mark.parametrize("key_exists", [False, True])
async def test_concurrent_overlapping_inserts_exactly_one_wins(
    committed_db: str, key_exists: bool
) -> None:
    setup = await _connect(committed_db)
    try:
        async with run_in_transaction(setup):
            ops: Actor = await make_actor(setup, "ops")
            payer = await service.create_payer(setup, payer_in())
            if key_exists:  # the key row exists: the writers queue on its lock
                seed = fee_in(effective_from=date(2020, 1, 1), effective_to=date(2020, 12, 31))
                await service.create_fee_schedule(setup, ops, payer.id, seed)
    finally:
        await setup.close()

    conns = [await _connect(committed_db) for _ in range(2)]
    started = asyncio.Barrier(2)

    async def add(conn: asyncpg.Connection, effective_from: date) -> str:
        try:
            async with run_in_transaction(conn):
                await conn.execute("SELECT 1")
                await started.wait()
                await service.create_fee_schedule(
                    conn, ops, payer.id, fee_in(effective_from=effective_from)
                )
        except Conflict as exc:
            return f"{exc.code}:{exc.field}"
        return "created"

    try:
        outcomes = await asyncio.gather(
            add(conns[0], date(2026, 1, 1)), add(conns[1], date(2026, 3, 1))
        )
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(outcomes) == ["created", "fee_schedule_overlap:effective_from"]

    check = await _connect(committed_db)
    try:
        count = await check.fetchval(
            "SELECT count(*) FROM fee_schedules s JOIN fee_schedule_keys k ON k.id = s.key_id "
            "WHERE k.payer_id = $1 AND upper_inf(s.valid)",
            payer.id,
        )
        keys = await check.fetchval(
            "SELECT count(*) FROM fee_schedule_keys WHERE payer_id = $1", payer.id
        )
    finally:
        await check.close()
    assert (count, keys) == (1, 1)
