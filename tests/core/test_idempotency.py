"""Idempotency-Key on POST /therapy-sessions: repeat, mismatch, rollback, and real races."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.therapy_sessions import CancelSessionIn
from services.core import idempotency
from services.core.db import init_connection
from services.core.settings import Settings
from tests.clients.helpers import arrange_committed, committed_api, session_body
from tests.factories import make_client, make_provider


async def test_a_repeat_gets_the_first_response_and_books_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    body = session_body(provider)
    headers = token(me) | {"Idempotency-Key": "book-1"}
    first = await client.post("/therapy-sessions", json=body, headers=headers)
    second = await client.post("/therapy-sessions", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
    assert await db.fetchval(count, me.client_id) == 1
    stored = await db.fetchrow(
        "SELECT operation, response_status FROM idempotency_keys WHERE user_id = $1", me.user_id
    )
    assert tuple(stored) == ("book_therapy_session", 201)


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    headers = token(me) | {"Idempotency-Key": "book-2"}
    body = session_body(provider)
    assert (await client.post("/therapy-sessions", json=body, headers=headers)).status_code == 201
    changed = await client.post(
        "/therapy-sessions", json=body | {"duration_minutes": 60}, headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
    assert await db.fetchval(count, me.client_id) == 1


async def test_keys_belong_to_their_user(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    a, b = await make_client(db, settings), await make_client(db, settings)
    body = session_body(provider)
    for who in (a, b):
        response = await client.post(
            "/therapy-sessions", json=body, headers=token(who) | {"Idempotency-Key": "same"}
        )
        assert response.status_code == 201
        assert response.json()["client_id"] == str(who.client_id)


async def test_a_failed_first_attempt_leaves_no_key_behind(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    headers = token(me) | {"Idempotency-Key": "retry-after-fix"}
    bad = session_body(provider, policy_id=str(uuid.uuid4()))
    assert (await client.post("/therapy-sessions", json=bad, headers=headers)).status_code == 422
    keys = "SELECT count(*) FROM idempotency_keys WHERE user_id = $1"
    assert await db.fetchval(keys, me.user_id) == 0
    fixed = await client.post("/therapy-sessions", json=session_body(provider), headers=headers)
    assert fixed.status_code == 201
    assert await db.fetchval(keys, me.user_id) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "ключ"])
async def test_bad_keys_are_400(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, key: str
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    response = await client.post(
        "/therapy-sessions",
        json=session_body(provider),
        headers=token(me) | {"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 400


async def test_concurrent_repeats_book_once(
    committed_db: str, settings: Settings, token: Any
) -> None:
    provider, me, policy = await arrange_committed(committed_db, settings)
    async with committed_api(settings, committed_db) as http:
        body = session_body(provider, policy_id=str(policy))
        headers = token(me) | {"Idempotency-Key": "race"}
        answers = await asyncio.gather(
            *(http.post("/therapy-sessions", json=body, headers=headers) for _ in range(8))
        )
    assert [a.status_code for a in answers] == [201] * 8
    assert len({a.json()["id"] for a in answers}) == 1
    conn = await asyncpg.connect(committed_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM therapy_sessions") == 1
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 1
    finally:
        await conn.close()


async def test_a_concurrent_repeat_waits_for_the_first_then_replays(
    committed_db: str, settings: Settings
) -> None:
    """Two real connections: the second blocks on the key until the first commits."""
    _, me, _ = await arrange_committed(committed_db, settings)
    first, second = await asyncpg.connect(committed_db), await asyncpg.connect(committed_db)
    for conn in (first, second):
        await init_connection(conn)
    release = asyncio.Event()
    runs: list[str] = []
    body = CancelSessionIn(reason="same body")

    async def use_case(name: str) -> CancelSessionIn:
        runs.append(name)
        await release.wait()
        return CancelSessionIn(reason=f"made by {name}")

    async def attempt(conn: asyncpg.Connection, name: str) -> tuple[int, CancelSessionIn]:
        async with conn.transaction():
            return await idempotency.run_once(
                conn, me.user_id, "k", "op", body, 201, lambda: use_case(name), CancelSessionIn
            )

    try:
        one = asyncio.create_task(attempt(first, "first"))
        await asyncio.sleep(0.2)
        two = asyncio.create_task(attempt(second, "second"))
        await asyncio.sleep(0.3)
        assert not two.done()  # blocked on the first transaction's key row
        release.set()
        results = await asyncio.gather(one, two)
    finally:
        await first.close()
        await second.close()
    assert runs == ["first"]
    assert results[0] == results[1] == (201, CancelSessionIn(reason="made by first"))


async def test_a_concurrent_repeat_runs_itself_when_the_first_rolls_back(
    committed_db: str, settings: Settings
) -> None:
    _, me, _ = await arrange_committed(committed_db, settings)
    first, second = await asyncpg.connect(committed_db), await asyncpg.connect(committed_db)
    for conn in (first, second):
        await init_connection(conn)
    body = CancelSessionIn(reason="same body")
    started = asyncio.Event()

    async def failing() -> CancelSessionIn:
        started.set()
        await asyncio.sleep(0.3)
        raise RuntimeError("the first attempt fails")

    async def succeeding() -> CancelSessionIn:
        return CancelSessionIn(reason="second")

    async def attempt(conn: asyncpg.Connection, use_case: Any) -> Any:
        async with conn.transaction():
            return await idempotency.run_once(
                conn, me.user_id, "k2", "op", body, 201, use_case, CancelSessionIn
            )

    try:
        one = asyncio.create_task(attempt(first, failing))
        await started.wait()
        two = asyncio.create_task(attempt(second, succeeding))
        with pytest.raises(RuntimeError):
            await one
        assert await two == (201, CancelSessionIn(reason="second"))
    finally:
        await first.close()
        await second.close()
