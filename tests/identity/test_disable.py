"""Ops disable and enable users: who may, what is recorded, what it ends."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.factories import make_client, make_ops, make_provider


@pytest.mark.parametrize("action", ["disable", "enable"])
async def test_only_ops_may_disable_or_enable(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, action: str
) -> None:
    target = await make_client(db, settings)
    url = f"/users/{target.user_id}/{action}"
    assert (await client.post(url)).status_code == 401
    for caller in (target, await make_provider(db, settings)):
        assert (await client.post(url, headers=token(caller))).status_code == 403
    assert (
        await db.fetchval("SELECT disabled_at FROM users WHERE id = $1", target.user_id)
    ) is None
    ops = token(await make_ops(db))
    unknown = await client.post(f"/users/{uuid.uuid4()}/{action}", headers=ops)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(url, headers=ops)).status_code == 200


async def test_disable_is_audited_revokes_refresh_tokens_and_keeps_its_first_time(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    target = await make_client(db, settings)  # signup issued a refresh token
    first = await client.post(f"/users/{target.user_id}/disable", headers=token(ops))
    again = await client.post(f"/users/{target.user_id}/disable", headers=token(ops))
    assert first.status_code == again.status_code == 200
    assert first.json()["disabled_at"] == again.json()["disabled_at"]
    live = await db.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        target.user_id,
    )
    assert live == 0
    await client.post(f"/users/{target.user_id}/enable", headers=token(ops))
    rows = await db.fetch(
        "SELECT actor_user_id, action, entity FROM audit_events WHERE entity_id = $1"
        " AND entity = 'user' ORDER BY id",
        target.user_id,
    )
    assert [tuple(r) for r in rows] == [(ops.user_id, "update", "user")] * 3


async def test_ops_cannot_disable_themselves(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.post(f"/users/{ops.user_id}/disable", headers=token(ops))
    assert response.status_code == 409
    assert response.json()["code"] == "cannot_disable_self"
    assert (await db.fetchval("SELECT disabled_at FROM users WHERE id = $1", ops.user_id)) is None
