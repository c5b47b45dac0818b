"""Who may read a client's charges, refunds, balance and statements: the client themself and
ops; no token 401, a provider 403 (even their own client's), another client or an unknown
client 404, each a problem document that writes no audit row. Ops' failed payments and
balances due: ops only."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from services.core import clock
from services.core.settings import Settings
from tests.factories import make_client
from tests.therapy_sessions.completion import arrange

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


def _this_month(settings: Settings) -> str:
    return f"{clock.now().astimezone(ZoneInfo(settings.statement_time_zone)):%Y-%m}"


ROUTES = ["/charges", "/refunds", "/balance", "/statements/{month}"]
CASES = [
    ("none", "own", 401),
    ("provider", "own", 403),
    ("other_client", "own", 404),
    ("client", "own", 200),
    ("ops", "own", 200),
    ("ops", "unknown", 404),
    ("client", "unknown", 404),
]


async def _audit_rows(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM audit_events")
    return count


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(("who", "whose", "expected"), CASES)
async def test_client_money_routes_authz(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object,
    path: str, who: str, whose: str, expected: int,
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
    before = await _audit_rows(db)
    url = f"/clients/{client_id}" + path.format(month=_this_month(settings))
    response = await api.get(url, headers=headers)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await _audit_rows(db) == before
    elif path in ("/balance", "/statements/{month}"):
        assert await _audit_rows(db) == before + 1  # the read of the client's money


@pytest.mark.parametrize("path", ["/payments/failed", "/payments/balances-due"])
@pytest.mark.parametrize(("who", "expected"), [("none", 401), ("client", 403), ("provider", 403),
                                               ("ops", 200)])  # fmt: skip
async def test_ops_payment_queues_authz(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object,
    path: str, who: str, expected: int,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    actors = {"provider": visit.provider, "client": visit.client, "ops": visit.ops}
    headers = {} if who == "none" else token(actors[who])  # type: ignore[operator]
    response = await api.get(path, headers=headers)
    assert response.status_code == expected, response.text
    if expected == 200:
        assert set(response.json()) == {"items", "next_cursor"}


async def test_an_unknown_filter_is_refused_naming_it(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object
) -> None:
    visit = await arrange(db, settings, insured=False)
    response = await api.get("/payments/failed?statuss=failed", headers=token(visit.ops))  # type: ignore[operator]
    assert response.status_code == 400
    assert "statuss" in response.text
    response = await api.get("/payments/failed?kind=nope", headers=token(visit.ops))  # type: ignore[operator]
    assert response.status_code == 400
    assert "kind" in response.text
