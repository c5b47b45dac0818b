"""Authorization matrix of every /clients route: role x own / foreign / unknown object."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.authz import ROLES, headers_for, matrix_cases, statuses
from tests.clients.helpers import FOREIGN_NAME, World, make_world, signup_body

Request = tuple[str, str, dict[str, Any] | None]


def _client_id(w: World, obj: str) -> uuid.UUID | None:
    return {"own": w.clients[0].client_id, "foreign": w.clients[1].client_id}.get(obj, uuid.uuid4())


def _policy(w: World, obj: str) -> str:
    if obj == "unknown":  # the caller's own client, a policy that does not exist
        return f"/clients/{w.clients[0].client_id}/policies/{uuid.uuid4()}"
    i = 0 if obj == "own" else 1
    return f"/clients/{w.clients[i].client_id}/policies/{w.policies[i]}"


def _new_policy(w: World) -> dict[str, Any]:
    return {
        "payer_id": str(w.payer),
        "member_id": "SEC1",
        "priority": "secondary",
        "relationship": "self",
        "effective_from": "2024-01-01",
    }


ROUTES: dict[str, tuple[Callable[[World, str], Request], list[tuple[str, str, int]]]] = {
    "get_client": (
        lambda w, o: ("GET", f"/clients/{_client_id(w, o)}", None),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "update_client": (
        lambda w, o: ("PATCH", f"/clients/{_client_id(w, o)}", {"last_name": "Changed"}),
        statuses(401, (403, 403, 403), (200, 404, 404), (200, 200, 404)),
    ),
    "list_policies": (
        lambda w, o: ("GET", f"/clients/{_client_id(w, o)}/policies", None),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "add_policy": (
        lambda w, o: ("POST", f"/clients/{_client_id(w, o)}/policies", _new_policy(w)),
        statuses(401, (403, 403, 403), (201, 404, 404), (201, 201, 404)),
    ),
    "get_policy": (
        lambda w, o: ("GET", _policy(w, o), None),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "update_policy": (
        lambda w, o: ("PATCH", _policy(w, o), {"group_number": "G2"}),
        statuses(401, (403, 403, 403), (200, 404, 404), (200, 200, 404)),
    ),
    "end_policy": (
        lambda w, o: ("POST", _policy(w, o) + "/end", {"effective_to": "2030-01-01"}),
        statuses(401, (403, 403, 403), (200, 404, 404), (200, 200, 404)),
    ),
}

CASES = matrix_cases(ROUTES)


async def _call(client: httpx.AsyncClient, request: Request, headers: dict[str, str]) -> Any:
    method, path, body = request
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("route", "role", "obj", "status"), CASES)
async def test_client_routes_matrix(
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
    actor = w.actor(role)
    response = await _call(client, ROUTES[route][0](w, obj), headers_for(token, actor))
    assert response.status_code == status, response.text
    if status == 404:
        text = response.text
        assert FOREIGN_NAME not in text
        assert "member_id" not in text
        assert "email" not in text
    if obj == "foreign" and status >= 400:
        assert (
            await db.fetchval("SELECT last_name FROM clients WHERE id = $1", w.clients[1].client_id)
            == "Lovelace"
        )
        assert (
            await db.fetchval(
                "SELECT count(*) FROM insurance_policies WHERE client_id = $1",
                w.clients[1].client_id,
            )
            == 1
        )


@pytest.mark.parametrize(
    ("role", "status"), [("none", 401), ("provider", 200), ("client", 403), ("ops", 200)]
)
async def test_list_clients_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    role: str,
    status: int,
) -> None:
    w = await make_world(db, settings)
    actor = w.actor(role)
    response = await client.get("/clients", headers=headers_for(token, actor))
    assert response.status_code == status
    if role == "provider":
        assert [c["id"] for c in response.json()["items"]] == [str(w.clients[0].client_id)]
    if role == "ops":
        ids = {c["id"] for c in response.json()["items"]}
        assert {str(w.clients[0].client_id), str(w.clients[1].client_id)} <= ids


@pytest.mark.parametrize(
    ("role", "status"), [("none", 401), ("provider", 403), ("client", 403), ("ops", 201)]
)
async def test_create_client_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    role: str,
    status: int,
) -> None:
    w = await make_world(db, settings)
    actor = w.actor(role)
    body = signup_body()
    del body["password"]
    response = await client.post("/clients", json=body, headers=headers_for(token, actor))
    assert response.status_code == status
    created = await db.fetchval("SELECT count(*) FROM clients WHERE email = $1", body["email"])
    assert created == (1 if status == 201 else 0)


@pytest.mark.parametrize("role", ROLES)
async def test_signup_is_public_to_everyone(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, role: str
) -> None:
    w = await make_world(db, settings)
    actor = w.actor(role)
    response = await client.post(
        "/clients/signup", json=signup_body(), headers=headers_for(token, actor)
    )
    assert response.status_code == 202


async def test_a_non_uuid_path_is_404_not_500(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w = await make_world(db, settings)
    for path in ("/clients/not-a-uuid", "/clients/%00", f"/clients/{w.clients[0].client_id}x"):
        response = await client.get(path, headers=token(w.ops))
        assert response.status_code == 404, (path, response.status_code)
