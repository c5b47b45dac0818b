"""client_providers (who sees whom) follows every session status change, and its backfill.

The clients domain owns the relation; the therapy_sessions service keeps it in step on booking
and cancelling, in the same transaction. Invariant: a pair's row counts its sessions that were
not cancelled, and there is no row without one.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from services.clients.service import provider_sees_client
from services.core.auth import Actor
from services.core.db import init_connection
from services.core.migrations import MIGRATIONS_DIR
from services.core.settings import Settings
from services.therapy_sessions.service import cancel_session, mark_no_show
from tests.factories import future, make_client, make_ops, make_provider, make_session, move_to_past

Pairs = set[tuple[uuid.UUID, uuid.UUID, int]]
_BY_SESSIONS = """
    SELECT provider_id, client_id, count(*) AS sessions FROM therapy_sessions
    WHERE status <> 'cancelled' AND provider_id = ANY($1) GROUP BY provider_id, client_id
"""


async def _shared(db: asyncpg.Connection, provider: Actor, client: Actor) -> int | None:
    sessions: int | None = await db.fetchval(
        "SELECT sessions FROM client_providers WHERE provider_id = $1 AND client_id = $2",
        provider.provider_id,
        client.client_id,
    )
    return sessions


async def _relation(db: asyncpg.Connection, *providers: Actor) -> Pairs:
    rows = await db.fetch(
        "SELECT provider_id, client_id, sessions FROM client_providers WHERE provider_id = ANY($1)",
        [p.provider_id for p in providers],
    )
    return {(r["provider_id"], r["client_id"], r["sessions"]) for r in rows}


async def _from_sessions(db: asyncpg.Connection, *providers: Actor) -> Pairs:
    rows = await db.fetch(_BY_SESSIONS, [p.provider_id for p in providers])
    return {(r["provider_id"], r["client_id"], r["sessions"]) for r in rows}


async def _sees(db: asyncpg.Connection, provider: Actor, client: Actor) -> bool:
    assert provider.provider_id is not None
    assert client.client_id is not None
    return await provider_sees_client(db, provider.provider_id, client.client_id)


async def _parties(db: asyncpg.Connection, settings: Settings) -> tuple[Actor, Actor, Actor, Actor]:
    """ops, a provider and two clients."""
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    return ops, provider, await make_client(db, settings), await make_client(db, settings)


async def test_the_relation_follows_booking_no_show_and_cancelling(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops = await make_ops(db)
    provider, other = await make_provider(db, settings), await make_provider(db, settings)
    patient = await make_client(db, settings)
    assert await _shared(db, provider, patient) is None
    assert not await _sees(db, provider, patient)

    first = await make_session(db, ops, provider, patient)
    assert await _shared(db, provider, patient) == 1
    assert await _sees(db, provider, patient)
    second = await make_session(db, ops, provider, patient, starts_at=future(8))
    missed = await make_session(db, ops, provider, patient, starts_at=future(9))
    assert await _shared(db, provider, patient) == 3

    # A no-show was not cancelled: the provider still sees the client.
    await move_to_past(db, missed.id)
    await mark_no_show(db, ops, missed.id)
    assert await _shared(db, provider, patient) == 3

    await cancel_session(db, ops, first.id, "moved")
    await cancel_session(db, ops, second.id, "moved")
    assert await _shared(db, provider, patient) == 1  # the no-show
    assert await _sees(db, provider, patient)
    assert not await _sees(db, other, patient)
    assert await _relation(db, provider, other) == await _from_sessions(db, provider, other)


async def test_cancelling_the_last_shared_session_ends_the_relation(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider, patient, neighbour = await _parties(db, settings)
    only = await make_session(db, ops, provider, patient)
    kept = await make_session(db, ops, provider, neighbour)

    await cancel_session(db, ops, only.id, "moved away")
    assert await _shared(db, provider, patient) is None
    assert not await _sees(db, provider, patient)
    assert await _shared(db, provider, neighbour) == 1  # another client's pair is untouched
    assert await _relation(db, provider) == await _from_sessions(db, provider)

    # Booking again brings it back.
    await make_session(db, ops, provider, patient, starts_at=future(10))
    assert await _shared(db, provider, patient) == 1
    await cancel_session(db, ops, kept.id, "moved away")
    assert await _relation(db, provider) == await _from_sessions(db, provider)


async def test_the_migration_backfills_the_relation_from_sessions(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider, a, b = await _parties(db, settings)
    await make_session(db, ops, provider, a)
    await make_session(db, ops, provider, a, starts_at=future(8))
    await cancel_session(db, ops, (await make_session(db, ops, provider, b)).id, "moved")
    expected = await _relation(db, provider)
    assert expected == await _from_sessions(db, provider)

    await db.execute("DELETE FROM client_providers")
    migration = (MIGRATIONS_DIR / "0013_client_providers.sql").read_text()
    await db.execute(migration[migration.index("INSERT INTO client_providers") :])
    assert await _relation(db, provider) == expected
    assert (provider.provider_id, a.client_id, 2) in expected
    assert await _shared(db, provider, b) is None


async def test_concurrent_cancels_of_the_last_two_sessions_end_the_relation(
    committed_db: str, settings: Settings
) -> None:
    """The second cancel waits on the pair's row, then counts from what the first committed."""
    setup = await asyncpg.connect(committed_db)
    await init_connection(setup)
    try:
        ops = await make_ops(setup)
        provider = await make_provider(setup, settings)
        patient = await make_client(setup, settings)
        one = await make_session(setup, ops, provider, patient)
        two = await make_session(setup, ops, provider, patient, starts_at=future(8))
    finally:
        await setup.close()
    first, second = await asyncpg.connect(committed_db), await asyncpg.connect(committed_db)
    try:
        for conn in (first, second):
            await init_connection(conn)
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await cancel_session(first, ops, one.id, "moved")
        waiting = asyncio.create_task(cancel_session(second, ops, two.id, "moved"))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked on the pair's client_providers row
        await tx1.commit()
        await waiting
        await tx2.commit()
        assert await _shared(first, provider, patient) is None
        assert await _relation(first, provider) == await _from_sessions(first, provider)
    finally:
        await first.close()
        await second.close()
