"""Who may use a client's card routes: the client themself and ops; no token 401, a provider
403 (even their own client's), another client or an unknown client 404. A refusal writes
nothing and calls no one."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.factories import make_client
from tests.therapy_sessions.completion import arrange

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

# (method, path under /clients/{id}, what the allowed get)
ROUTES = [
    ("POST", "/payment-setup", 201),
    ("GET", "/payment-methods", 200),
    ("DELETE", "/payment-methods/pm_unknown", 404),  # allowed, but no such card
]
# who asks, whose client: expected status, None for the route's own answer
CASES = [
    ("none", "own", 401),
    ("provider", "own", 403),
    ("other_client", "own", 404),
    ("client", "own", None),
    ("ops", "own", None),
    ("ops", "unknown", 404),
    ("client", "unknown", 404),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
@pytest.mark.parametrize(("who", "whose", "expected"), CASES)
async def test_card_routes_authz(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object,
    method: str, path: str, allowed: int, who: str, whose: str, expected: int | None,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    actors = {
        "provider": visit.provider,  # the client's own provider: still 403
        "client": visit.client,
        "ops": visit.ops,
        "other_client": await make_client(db, settings),
    }
    headers = {} if who == "none" else token(actors[who])  # type: ignore[operator]
    client_id = visit.client.client_id if whose == "own" else uuid.uuid4()
    before = await db.fetchval("SELECT count(*) FROM payment_setups")
    response = await api.request(method, f"/clients/{client_id}{path}", headers=headers)
    assert response.status_code == (expected or allowed), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await db.fetchval("SELECT count(*) FROM payment_setups") == before
