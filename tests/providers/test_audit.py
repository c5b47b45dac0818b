"""A provider's profile (NPI, sealed tax id) leaves an audit row when it is created or changed."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from tests.factories import make_ops, make_provider, provider_body, valid_npi


async def _audit_rows(db: asyncpg.Connection, entity_id: str | uuid.UUID) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        "SELECT actor_user_id, actor_role, action, entity FROM audit_events"
        " WHERE entity_id = $1 ORDER BY id",
        uuid.UUID(str(entity_id)),
    )
    return [tuple(r) for r in rows]


async def test_onboarding_a_provider_writes_a_create_row(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.post("/providers", json=provider_body(), headers=token(ops))
    assert response.status_code == 201, response.text
    provider_id = response.json()["provider"]["id"]
    assert await _audit_rows(db, provider_id) == [(ops.user_id, "ops", "create", "provider")]


async def test_changing_npi_or_tax_id_writes_an_update_row_per_change(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Any, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    assert provider.provider_id is not None
    path = f"/providers/{provider.provider_id}"
    for patch in ({"npi": valid_npi()}, {"tax_id": "11-2223333"}):
        response = await client.patch(path, json=patch, headers=token(ops))
        assert response.status_code == 200, response.text
    assert await _audit_rows(db, provider.provider_id) == [
        (ops.user_id, "ops", "create", "provider"),
        (ops.user_id, "ops", "update", "provider"),
        (ops.user_id, "ops", "update", "provider"),
    ]


async def test_a_refused_change_writes_no_row(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Any, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    response = await client.patch(
        f"/providers/{provider.provider_id}", json={"tax_id": "12-34"}, headers=token(ops)
    )
    assert response.status_code in (400, 422), response.text
    assert [row[2] for row in await _audit_rows(db, provider.provider_id or "")] == ["create"]
