"""Two ops setting one new CARC's policy at the same moment: one creates, the other changes it."""

from __future__ import annotations

import asyncio

import asyncpg

from schemas.recoupment import RecoupmentPolicyIn
from services.core.db import init_connection, run_in_transaction
from services.remittance import policies
from tests.factories import make_actor


async def _connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    return conn


async def test_concurrent_puts_of_a_new_carc_create_once_and_record_both(
    committed_db: str,
) -> None:
    setup = await _connect(committed_db)
    try:
        async with run_in_transaction(setup):
            first, second = await make_actor(setup, "ops"), await make_actor(setup, "ops")
    finally:
        await setup.close()

    conns = [await _connect(committed_db) for _ in range(2)]
    started = asyncio.Barrier(2)
    terms = {
        first.user: RecoupmentPolicyIn(decision="recoup", description="first"),
        second.user: RecoupmentPolicyIn(decision="absorb", description="second"),
    }

    async def put(conn: asyncpg.Connection, actor_index: int) -> bool:
        actor = (first, second)[actor_index]
        async with run_in_transaction(conn):
            await conn.execute("SELECT 1")
            await started.wait()
            _, created = await policies.set_policy(conn, actor, "CO", "B9", terms[actor.user])
            return created

    try:
        outcomes = await asyncio.gather(put(conns[0], 0), put(conns[1], 1))
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(outcomes) == [False, True]

    check = await _connect(committed_db)
    try:
        rows = await check.fetch(
            "SELECT id, description, updated_by FROM recoupment_policies"
            " WHERE carc_group = 'CO' AND carc_code = 'B9'"
        )
        changes = await check.fetch(
            "SELECT action, before, after, changed_by FROM recoupment_policy_changes"
            " WHERE policy_id = $1 ORDER BY created_at",
            rows[0]["id"],
        )
    finally:
        await check.close()
    assert len(rows) == 1
    assert [c["action"] for c in changes] == ["create", "update"]
    # The history chains: the update's before is the create's after, and the row says the last.
    assert changes[1]["before"] == changes[0]["after"]
    assert changes[1]["after"]["description"] == rows[0]["description"]
    assert changes[1]["changed_by"] == rows[0]["updated_by"]
    assert {c["changed_by"] for c in changes} == {first.user, second.user}
