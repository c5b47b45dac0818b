"""Every PHI read and write leaves exactly its audit rows, tied to the request that made them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from services.core.settings import Settings
from tests.clients.helpers import make_world, session_body
from tests.factories import move_to_past


async def _new_rows(db: asyncpg.Connection, after: int) -> list[tuple[Any, ...]]:
    rows = await db.fetch(
        """
        SELECT actor_user_id, actor_role, action, entity, entity_id, request_id
        FROM audit_events WHERE id > $1 ORDER BY id
        """,
        after,
    )
    return [tuple(r) for r in rows]


async def test_every_phi_route_writes_its_audit_rows(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w = await make_world(db, settings)
    me, provider, ops = w.clients[0], w.providers[0], w.ops
    cid, pid, sid = me.client_id, w.policies[0], w.sessions[0].id
    policies = f"/clients/{cid}/policies"
    steps: list[tuple[Any, str, str, Any, str, str, Any]] = [
        # (actor, method, path, body, action, entity, entity id; None: from the response)
        (me, "GET", f"/clients/{cid}", None, "read", "client", cid),
        (me, "PATCH", f"/clients/{cid}", {"phone": "+12175550199"}, "update", "client", cid),
        (provider, "GET", "/clients", None, "read", "client", cid),
        (me, "GET", policies, None, "read", "insurance_policy", pid),
        (provider, "GET", f"{policies}/{pid}", None, "read", "insurance_policy", pid),
        (me, "PATCH", f"{policies}/{pid}", {"group_number": "G9"}, "update",
         "insurance_policy", pid),
        (ops, "POST", f"{policies}/{pid}/end", {"effective_to": "2035-01-01"}, "update",
         "insurance_policy", pid),
        (me, "POST", policies, {"payer_id": str(w.payer), "member_id": "S2", "priority":
         "secondary", "relationship": "self", "effective_from": "2024-01-01"}, "create",
         "insurance_policy", None),
        (me, "GET", "/therapy-sessions", None, "read", "therapy_session", sid),
        (me, "POST", "/therapy-sessions", session_body(provider), "create", "therapy_session",
         None),
        (provider, "GET", f"/therapy-sessions/{sid}", None, "read", "therapy_session", sid),
        (ops, "POST", f"/therapy-sessions/{sid}/no-show", None, "update", "therapy_session", sid),
    ]  # fmt: skip
    await move_to_past(db, sid)
    for actor, method, path, body, action, entity, entity_id in steps:
        before = await db.fetchval("SELECT coalesce(max(id), 0) FROM audit_events")
        response = await client.request(method, path, json=body, headers=token(actor))
        assert response.status_code in (200, 201), (path, response.text)
        expected_id = entity_id or uuid.UUID(response.json()["id"])
        if path == "/therapy-sessions" and method == "GET":
            # A list writes one row per session it returns: here the client's one session.
            assert [i["id"] for i in response.json()["items"]] == [str(sid)]
        rows = await _new_rows(db, before)
        assert rows == [
            (actor.user_id, actor.role, action, entity, expected_id,
             response.headers["x-request-id"])
        ], path  # fmt: skip


async def test_refusals_write_no_audit_rows(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w = await make_world(db, settings)
    stranger = w.clients[1]
    before = await db.fetchval("SELECT coalesce(max(id), 0) FROM audit_events")
    for path in (
        f"/clients/{w.clients[0].client_id}",
        f"/clients/{w.clients[0].client_id}/policies",
        f"/therapy-sessions/{w.sessions[0].id}",
    ):
        assert (await client.get(path, headers=token(stranger))).status_code == 404
    assert await _new_rows(db, before) == []
