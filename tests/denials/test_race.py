"""Two ops acting on one denial at the same moment: one resolves it, the other gets 409."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from schemas.claims import ClaimVoidIn
from schemas.denials import WriteOffIn
from services.core.db import init_connection, run_in_transaction
from services.core.errors import DomainError
from services.denials import service
from tests.denials.world import deny
from tests.factories import make_actor, make_payer, make_provider_actor

pytestmark = pytest.mark.usefixtures("clock")


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    return conn


async def test_a_write_off_and_a_void_at_once_resolve_the_denial_once(committed_db: str) -> None:
    setup = await _connect(committed_db)
    try:
        async with run_in_transaction(setup):
            ops, other = await make_actor(setup, "ops"), await make_actor(setup, "ops")
            provider = await make_provider_actor(setup)
            denial = await deny(setup, ops, provider, (await make_payer(setup)).id)
    finally:
        await setup.close()

    conns = [await _connect(committed_db) for _ in range(2)]
    started = asyncio.Barrier(2)

    async def act(conn: asyncpg.Connection, write_off: bool) -> Any:
        try:
            async with run_in_transaction(conn):
                await conn.execute("SELECT 1")
                await started.wait()
                if write_off:
                    return await service.write_off(conn, ops, denial.id, WriteOffIn(note="w"))
                return await service.void(conn, other, denial.id, ClaimVoidIn(reason="v"))
        except DomainError as exc:
            return exc

    try:
        outcomes = await asyncio.gather(act(conns[0], True), act(conns[1], False))
    finally:
        for conn in conns:
            await conn.close()
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1
    assert refused[0].code == "denial_resolved"

    check = await _connect(committed_db)
    try:
        resolutions = await check.fetchval("SELECT count(*) FROM denial_resolutions")
        versions = await check.fetchval(
            "SELECT count(*) FROM claim_submissions WHERE claim_id = $1", denial.billed.claim_id
        )
    finally:
        await check.close()
    assert resolutions == 1
    # The void made a version only if it won (the loser's 409 names it); a write-off makes none.
    assert versions == (2 if "voided" in refused[0].detail else 1)
