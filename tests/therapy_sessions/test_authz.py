"""Authorization matrix of every /therapy-sessions route: role x own / foreign / unknown."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.core.settings import Settings
from tests.authz import ROLES, headers_for, matrix_cases, statuses
from tests.clients.helpers import World, make_world, session_body, signup_body
from tests.factories import move_to_past

Request = tuple[str, str, dict[str, Any] | None]


def _session(w: World, obj: str) -> str:
    found = {"own": w.sessions[0].id, "foreign": w.sessions[1].id}
    return f"/therapy-sessions/{found.get(obj, uuid.uuid4())}"


def _book(w: World, obj: str) -> Request:
    """Book with the caller's own provider for the own, foreign or an unknown client."""
    client_id = {"own": w.clients[0].client_id, "foreign": w.clients[1].client_id}.get(
        obj, uuid.uuid4()
    )
    return "POST", "/therapy-sessions", session_body(w.providers[0], client_id=str(client_id))


ROUTES: dict[str, tuple[Callable[[World, str], Request], list[tuple[str, str, int]]]] = {
    "get": (
        lambda w, o: ("GET", _session(w, o), None),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "cancel": (
        lambda w, o: ("POST", _session(w, o) + "/cancel", {"reason": "probe"}),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "no_show": (
        lambda w, o: ("POST", _session(w, o) + "/no-show", None),
        statuses(401, (200, 404, 404), (403, 403, 403), (200, 200, 404)),
    ),
    # A client id in a body is not a path: ops naming an unknown one get 422 naming client_id.
    "book": (
        _book,
        statuses(401, (201, 404, 404), (201, 404, 404), (201, 201, 422)),
    ),
}

CASES = matrix_cases(ROUTES)


@pytest.mark.parametrize(("route", "role", "obj", "status"), CASES)
async def test_session_routes_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    route: str,
    role: str,
    obj: str,
    status: int,
) -> None:
    w = await make_world(db, settings)
    for s in w.sessions:
        await move_to_past(db, s.id)  # so a no-show is possible
    actor = w.actor(role)
    method, path, body = ROUTES[route][0](w, obj)
    response = await client.request(method, path, json=body, headers=headers_for(token, actor))
    assert response.status_code == status, response.text
    foreign = w.sessions[1]
    if status == 404:
        assert str(foreign.provider_id) not in response.text
        assert "starts_at" not in response.text
        assert "Bertha" not in response.text
    if obj == "foreign" and status >= 400:
        row = await db.fetchrow(
            "SELECT status, cancelled_at FROM therapy_sessions WHERE id = $1", foreign.id
        )
        assert tuple(row) == ("scheduled", None)
        count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
        assert await db.fetchval(count, w.clients[1].client_id) == 1


@pytest.mark.parametrize("role", ROLES)
async def test_list_sessions_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, role: str
) -> None:
    w = await make_world(db, settings)
    actor = w.actor(role)
    response = await client.get("/therapy-sessions", headers=headers_for(token, actor))
    if role == "none":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    ids = {s["id"] for s in response.json()["items"]}
    own, foreign = str(w.sessions[0].id), str(w.sessions[1].id)
    assert own in ids
    assert (foreign in ids) == (role == "ops")
    # Naming the other provider or client in a filter shows nothing more.
    probe = {
        "provider_id": str(w.providers[1].provider_id),
        "client_id": str(w.clients[1].client_id),
    }
    probed = await client.get("/therapy-sessions", params=probe, headers=token(actor))
    assert [s["id"] for s in probed.json()["items"]] == ([foreign] if role == "ops" else [])


async def test_a_non_uuid_session_path_is_404(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w = await make_world(db, settings)
    for path in ("/therapy-sessions/123", "/therapy-sessions/zz/cancel"):
        response = await client.request("GET" if "cancel" not in path else "POST", path,
                                        headers=token(w.ops))  # fmt: skip
        assert response.status_code == 404, path


async def test_a_token_whose_user_is_gone_is_401_on_writes_that_store_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w = await make_world(db, settings)
    ghost = Actor(user_id=uuid.uuid4(), role="ops")
    booked = await client.post(
        "/therapy-sessions",
        json=session_body(w.providers[0], w.clients[0]),
        headers=token(ghost) | {"Idempotency-Key": "ghost"},
    )
    assert booked.status_code == 401
    unkeyed = await client.post(
        "/therapy-sessions", json=session_body(w.providers[0], w.clients[0]), headers=token(ghost)
    )
    assert unkeyed.status_code == 401
    cancel = await client.post(
        f"/therapy-sessions/{w.sessions[0].id}/cancel", json={"reason": "x"}, headers=token(ghost)
    )
    assert cancel.status_code == 401
    body = signup_body()
    del body["password"]
    created = await client.post("/clients", json=body, headers=token(ghost))
    assert created.status_code == 401
    assert await db.fetchval("SELECT count(*) FROM clients WHERE email = $1", body["email"]) == 0
