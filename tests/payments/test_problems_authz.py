"""Who may use the payment problems' routes (disputes, failed refunds, unmatched captures): ops
only. No token 401, a client or a provider 403, an unknown id 404; a refusal writes nothing."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import pytest

from services.app import create_app
from services.core.settings import Settings
from tests.authz import guarded_routes
from tests.therapy_sessions.completion import arrange

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

UNKNOWN = uuid.UUID("0b7c2d3e-0000-4000-8000-00000000dead")  # fixed: xdist workers collect alike
NOTE = {"note": "checked"}
# (method, path, body, what ops get: these ids are unknown, the lists are empty)
ROUTES = [
    ("GET", "/payments/disputes", None, 200),
    ("GET", f"/payments/disputes/{UNKNOWN}", None, 404),
    ("POST", f"/payments/disputes/{UNKNOWN}/resolution", {"action": "write_off", **NOTE}, 404),
    ("GET", "/payments/queues/failed-refunds", None, 200),
    ("POST", f"/payments/failed-refunds/{UNKNOWN}/resolution",
     {"action": "kept_as_credit", **NOTE}, 404),
    ("GET", "/payments/queues/exceptions", None, 200),
    ("POST", f"/payments/exceptions/{UNKNOWN}/resolution", {"action": "dismiss", **NOTE}, 404),
]  # fmt: skip
WHO = [("none", 401), ("client", 403), ("provider", 403), ("ops", None)]


@pytest.mark.parametrize(("method", "path", "body", "for_ops"), ROUTES)
@pytest.mark.parametrize(("who", "expected"), WHO)
async def test_payment_problem_routes_are_ops_only(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object,
    method: str, path: str, body: dict[str, str] | None, for_ops: int, who: str,
    expected: int | None,
) -> None:  # fmt: skip
    visit = await arrange(db, settings, insured=False)
    actors = {"client": visit.client, "provider": visit.provider, "ops": visit.ops}
    headers = {} if who == "none" else token(actors[who])  # type: ignore[operator]
    before = await db.fetchval("SELECT count(*) FROM journal_entries")
    response = await api.request(method, path, json=body, headers=headers)
    assert response.status_code == (expected or for_ops), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    else:
        assert response.json() == {"items": [], "next_cursor": None}
    assert await db.fetchval("SELECT count(*) FROM journal_entries") == before


async def test_a_misspelt_filter_is_refused(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: object
) -> None:
    visit = await arrange(db, settings, insured=False)
    ops = token(visit.ops)  # type: ignore[operator]
    for params in ({"status": "settled"}, {"limit": "201"}, {"cursor": "!!"}, {"statuss": "lost"}):
        response = await api.get("/payments/disputes", params=params, headers=ops)
        assert response.status_code == 400, (params, response.text)


def test_every_payments_route_is_in_the_matrix(settings: Settings) -> None:
    seen = guarded_routes(create_app(settings), "/payments")
    assert {(method, re.sub(r"\{[^}]+\}", str(UNKNOWN), path), roles)
            for method, path, roles in seen} == {
        (method, path, frozenset({"ops"})) for method, path, _, _ in ROUTES
    }  # fmt: skip
