"""Authorization matrix of the claims routes: role x own / foreign / unknown."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.authz import ROLES, expected_status, headers_for, refusal
from tests.claims.world import ClaimWorld, make_claim_world, session_of

pytestmark = pytest.mark.usefixtures("clock")


def _claim(w: ClaimWorld, obj: str) -> uuid.UUID:
    return {"own": w.claims[0], "foreign": w.claims[1]}.get(obj) or uuid.uuid4()


async def _session(db: asyncpg.Connection, w: ClaimWorld, obj: str) -> uuid.UUID:
    if obj == "unknown":
        return uuid.uuid4()
    return await session_of(db, _claim(w, obj))


async def _path_get(db: asyncpg.Connection, w: ClaimWorld, obj: str) -> str:
    return f"/claims/{_claim(w, obj)}"


async def _path_versions(db: asyncpg.Connection, w: ClaimWorld, obj: str) -> str:
    return f"/claims/{_claim(w, obj)}/versions"


async def _path_session(db: asyncpg.Connection, w: ClaimWorld, obj: str) -> str:
    return f"/therapy-sessions/{await _session(db, w, obj)}/claim"


Path = Callable[[asyncpg.Connection, ClaimWorld, str], Awaitable[str]]
# route: (path, roles admitted). "own" is provider A's claim (client A's session).
OBJECT_ROUTES: dict[str, tuple[Path, tuple[str, ...]]] = {
    "get": (_path_get, ("ops", "provider")),
    "versions": (_path_versions, ("ops",)),
    "session_claim": (_path_session, ("ops", "provider", "client")),
}
CASES = [
    pytest.param(route, role, obj, id=f"{route}-{role}-{obj}")
    for route in OBJECT_ROUTES
    for role in ROLES
    for obj in ("own", "foreign", "unknown")
]


@pytest.mark.parametrize(("route", "role", "obj"), CASES)
async def test_claim_routes_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, route: str, role: str, obj: str
) -> None:
    w = await make_claim_world(db)
    path_of, allowed = OBJECT_ROUTES[route]
    path = await path_of(db, w, obj)
    response = await client.get(path, headers=headers_for(token, w.actor(role)))
    assert response.status_code == expected_status(role, obj, allowed, 200), response.text
    if response.status_code == 404:  # the problem's `instance` echoes the path, nothing more
        assert str(w.providers[1].provider_id) not in response.text
        assert "claim_number" not in response.text
        assert "service_date" not in response.text
    if response.status_code >= 400:
        reads = await db.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = 'read' AND entity = 'claim'"
        )
        assert reads == 0


LISTS = {
    "/claims": ("ops", "provider"),
    "/claims/queues/rejected": ("ops",),
    "/claims/queues/filing-deadline": ("ops",),
    "/claims/queues/needs-ops": ("ops",),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", list(LISTS))
async def test_claim_lists_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, path: str, role: str
) -> None:
    w = await make_claim_world(db)
    response = await client.get(path, headers=headers_for(token, w.actor(role)))
    refused = refusal(role, LISTS[path])
    assert response.status_code == (refused or 200), response.text
    if path == "/claims" and refused is None:
        ids = {c["id"] for c in response.json()["items"]}
        assert str(w.claims[0]) in ids
        assert (str(w.claims[1]) in ids) == (role == "ops")


async def test_provider_a_probing_provider_bs_claim_is_404_everywhere(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    a = token(w.providers[0])
    foreign = w.claims[1]
    session = await session_of(db, foreign)
    for path in (f"/claims/{foreign}", f"/therapy-sessions/{session}/claim"):
        response = await client.get(path, headers=a)
        assert response.status_code == 404, path
        assert response.json()["code"] == "claim_not_found"
    assert (await client.get(f"/claims/{foreign}/versions", headers=a)).status_code == 403
