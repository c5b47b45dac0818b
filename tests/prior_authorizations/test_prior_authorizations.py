"""Prior authorizations: ops record them, providers read their clients', completion uses a
visit (the last one only once, under a race), return_visit gives it back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from schemas.therapy_sessions import CompleteSessionIn
from services.core.db import create_pool
from services.core.settings import Settings
from services.prior_authorizations.errors import AuthorizationNotFound
from services.prior_authorizations.service import return_visit
from services.therapy_sessions.completion import complete_session
from services.therapy_sessions.errors import CompletionRefused
from tests.factories import make_provider, make_session
from tests.therapy_sessions.completion import (
    Visit,
    arrange,
    authorize,
    completion_body,
    session_row,
)

pytestmark = pytest.mark.usefixtures("clock")


def _body(visit: Visit, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": str(visit.client.client_id),
        "payer_id": str(visit.payer.id),
        "number": "PA-2026-001",
        "cpt_codes": ["90837", "90834"],
        "visits_authorized": 1,
        "valid_from": "2026-11-01",
        "valid_to": "2026-12-31",
    }
    body.update(fields)
    return body


async def _authorize(
    client: httpx.AsyncClient, token: Any, visit: Visit, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/prior-authorizations", json=_body(visit, **fields), headers=token(visit.ops)
    )
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


async def test_ops_record_and_providers_read_only_their_clients(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    other = await make_provider(db, settings)
    created = await _authorize(client, token, visit)
    assert (created["visits_used"], created["number"]) == (0, "PA-2026-001")
    url = f"/prior-authorizations/{created['id']}"
    assert (await client.get(url, headers=token(visit.provider))).json()["id"] == created["id"]
    assert (await client.get(url, headers=token(other))).status_code == 404
    assert (await client.get(url, headers=token(visit.client))).status_code == 403
    mine = await client.get("/prior-authorizations", headers=token(visit.provider))
    assert [x["id"] for x in mine.json()["items"]] == [created["id"]]
    theirs = await client.get("/prior-authorizations", headers=token(other))
    assert theirs.json()["items"] == []
    by_provider = await client.post(
        "/prior-authorizations", json=_body(visit, number="X1"), headers=token(visit.provider)
    )
    assert by_provider.status_code == 403


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({}, 409, "number"),  # the same payer's number again
        ({"number": "B2", "valid_to": "2026-10-01"}, 422, "valid_to"),
        ({"number": "B3", "client_id": str(uuid.uuid4())}, 422, "client_id"),
        ({"number": "B4", "payer_id": str(uuid.uuid4())}, 422, "payer_id"),
        ({"number": "B5", "cpt_codes": []}, 400, "cpt_codes"),
        ({"number": "B6", "visits_authorized": 0}, 400, "visits_authorized"),
    ],
)
async def test_refusals_of_a_new_authorization(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    visit = await arrange(db, settings)
    await _authorize(client, token, visit)
    response = await client.post(
        "/prior-authorizations", json=_body(visit, **change), headers=token(visit.ops)
    )
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_completion_uses_a_visit_and_refuses_when_none_is_left(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90837"])
    url = f"/therapy-sessions/{visit.session.id}/complete"
    refused = await client.post(url, json=completion_body(), headers=token(visit.provider))
    assert refused.status_code == 422
    assert refused.json()["code"] == "prior_authorization_required"
    # One that has ended, and one for other codes, do not count.
    await _authorize(client, token, visit, number="OLD", valid_from="2026-01-01",
                     valid_to="2026-06-30")  # fmt: skip
    await _authorize(client, token, visit, number="OTHER", cpt_codes=["90834"])
    again = await client.post(url, json=completion_body(), headers=token(visit.provider))
    assert again.json()["code"] == "prior_authorization_required"
    assert (await session_row(db, visit.session.id))["status"] == "scheduled"
    created = await _authorize(client, token, visit)
    done = await client.post(url, json=completion_body(), headers=token(visit.provider))
    assert done.status_code == 200, done.text
    assert done.json()["session"]["prior_authorization_id"] == created["id"]
    used = "SELECT visits_used FROM prior_authorizations WHERE id = $1::uuid"
    assert await db.fetchval(used, created["id"]) == 1
    second = await make_session(db, visit.ops, visit.provider, visit.client, visit.policy_id)
    exhausted = await client.post(
        f"/therapy-sessions/{second.id}/complete",
        json=completion_body(),
        headers=token(visit.provider),
    )
    assert exhausted.json()["code"] == "prior_authorization_required"
    await return_visit(db, uuid.UUID(created["id"]))
    assert await db.fetchval(used, created["id"]) == 0
    with pytest.raises(AuthorizationNotFound):
        await return_visit(db, uuid.UUID(created["id"]))


async def test_a_code_the_payer_does_not_list_needs_no_authorization(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90791"])
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(),
        headers=token(visit.provider),
    )
    assert response.status_code == 200
    assert response.json()["session"]["prior_authorization_id"] is None


@pytest.fixture
async def pool(committed_db: str) -> AsyncGenerator[asyncpg.Pool, None]:
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    yield pool
    await pool.close()


async def test_two_completions_racing_for_the_last_visit_one_wins(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        visit = await arrange(conn, settings, prior_auth_cpt_codes=["90837"])
        second = await make_session(conn, visit.ops, visit.provider, visit.client, visit.policy_id)
        await authorize(conn, visit, "LAST1", 1)
    data = msgspec.convert(completion_body(), CompleteSessionIn)
    first_done = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await complete_session(conn, settings, visit.provider, visit.session.id, data)
            first_done.set()
            await release.wait()  # hold the authorization's row lock

    async def racer() -> str:
        await first_done.wait()
        async with pool.acquire() as conn, conn.transaction():
            try:
                await complete_session(conn, settings, visit.provider, second.id, data)
            except CompletionRefused as refused:
                return refused.code
            return "completed"

    winner = asyncio.create_task(first())
    loser = asyncio.create_task(racer())
    await asyncio.wait([winner, asyncio.create_task(first_done.wait())], timeout=10,
                       return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    if winner.done():
        winner.result()  # the first completion failed: say why
    await asyncio.sleep(0.3)  # the racer is now waiting on the row lock
    assert not loser.done()
    release.set()
    await asyncio.wait_for(winner, 10)
    assert await asyncio.wait_for(loser, 10) == "prior_authorization_required"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT visits_used FROM prior_authorizations") == 1
        statuses = await conn.fetch("SELECT status FROM therapy_sessions ORDER BY status")
        assert sorted(r["status"] for r in statuses) == ["confirmed", "scheduled"]
