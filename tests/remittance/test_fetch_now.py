"""POST /remittances/fetches: ops' "fetch now" queues the clearinghouse's 835 fetch through the
outbox under the cron's dedupe key, once while one is open, and says which happened."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from services.core import outbox
from services.core.settings import Settings
from services.remittance.ingest import dedupe_key, queue_fetch
from tests.authz import refusal
from tests.factories import make_actor

pytestmark = pytest.mark.usefixtures("clock")
ROLES = ("none", "provider", "client", "ops")


async def _open_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT id, payload, dedupe_key FROM outbox WHERE job = 'fetch_remittances'"
        " AND completed_at IS NULL"
    )
    return rows


async def test_fetch_now_queues_once_while_open_and_again_once_done(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, settings: Settings
) -> None:
    ops = token(await make_actor(db, "ops"))
    name = settings.clearinghouse_receiver_id
    first = await client.post("/remittances/fetches", headers=ops)
    assert first.status_code == 202, first.text
    assert first.json() == {"clearinghouse": name, "queued": True}
    [row] = await _open_rows(db)
    assert row["dedupe_key"] == dedupe_key(name) == f"fetch_remittances:{name}"
    assert row["payload"] == {"clearinghouse": name}

    again = await client.post("/remittances/fetches", headers=ops)
    assert again.status_code == 202, again.text
    assert again.json() == {"clearinghouse": name, "queued": False}
    assert not await queue_fetch(db, settings)  # the cron's key: the cron adds nothing either
    assert [r["id"] for r in await _open_rows(db)] == [row["id"]]

    await outbox.complete(db, row["id"])  # the worker fetched: the next press queues anew
    after = await client.post("/remittances/fetches", headers=ops)
    assert after.json() == {"clearinghouse": name, "queued": True}
    [fresh] = await _open_rows(db)
    assert fresh["id"] != row["id"]


async def test_an_open_fetch_waiting_to_retry_is_left_as_it_is(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, settings: Settings
) -> None:
    """A fetch that failed (the clearinghouse down) waits out its retry delay: pressing again
    neither adds a second row nor hurries the first."""
    ops = token(await make_actor(db, "ops"))
    assert (await client.post("/remittances/fetches", headers=ops)).json()["queued"] is True
    [row] = await _open_rows(db)
    await db.execute(
        "UPDATE outbox SET last_error = 'down', available_at = available_at + interval '5 min'"
        " WHERE id = $1",
        row["id"],
    )
    before = await db.fetchval("SELECT available_at FROM outbox WHERE id = $1", row["id"])
    again = await client.post("/remittances/fetches", headers=ops)
    assert again.json()["queued"] is False
    assert await db.fetchval("SELECT available_at FROM outbox WHERE id = $1", row["id"]) == before
    assert len(await _open_rows(db)) == 1


@pytest.mark.parametrize("role", ROLES)
async def test_fetch_now_is_for_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, role: str
) -> None:
    headers = {} if role == "none" else token(await make_actor(db, role))
    response = await client.post("/remittances/fetches", headers=headers)
    assert response.status_code == (refusal(role, ("ops",)) or 202), response.text
    assert len(await _open_rows(db)) == (1 if role == "ops" else 0)
