"""Cross-cutting HTTP behaviour: problem details, request ids, health, OpenAPI, metrics, routes."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from services.app import create_app
from services.core.auth import PUBLIC
from tests.factories import make_client_actor, make_ops


async def test_validation_error_is_problem_details_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/auth/login", json={"email": "a@b.test", "password": 12})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400
    assert body["type"].endswith("/validation_error")
    assert body["request_id"] == response.headers["x-request-id"]
    assert [e["field"] for e in body["errors"]] == ["password"]


async def test_a_renamed_parameter_is_named_as_the_caller_sends_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    # The handler's parameter is starts_from; the query parameter is `from`.
    ops = await make_ops(db)
    response = await client.get("/therapy-sessions", params={"from": "soon"}, headers=token(ops))
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["from"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "a@b.test"}, "password"),
        ({"email": "a@b.test", "password": "x", "admin": True}, "admin"),
        ({"email": "no-at-sign", "password": "x"}, "email"),
        ({"email": "a\x00@b.test", "password": "x"}, "email"),
    ],
)
async def test_bad_bodies_name_their_field(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    response = await client.post("/auth/login", json=payload)
    assert response.status_code == 400, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unknown_route_is_a_404_problem_with_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["status"] == 404
    assert len(response.headers["x-request-id"]) == 32


async def test_a_callers_request_id_is_kept_and_a_bad_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/health/live", headers={"x-request-id": "abc-123_DEF.4567"})
    assert kept.headers["x-request-id"] == "abc-123_DEF.4567"
    replaced = await client.get("/health/live", headers={"x-request-id": "bad id\twith tab"})
    assert replaced.headers["x-request-id"] != "bad id\twith tab"


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}


async def test_openapi_json_and_viewer(client: httpx.AsyncClient) -> None:
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    assert "/auth/login" in spec.json()["paths"]
    viewer = await client.get("/schema")
    assert viewer.status_code == 200
    assert "text/html" in viewer.headers["content-type"]


async def test_metrics_are_for_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    client_actor = await make_client_actor(db)
    assert (await client.get("/metrics", headers=token(client_actor))).status_code == 403
    await client.get("/health/live")
    ops = await make_ops(db)
    response = await client.get("/metrics", headers=token(ops))
    assert response.status_code == 200
    assert (
        'request_duration_seconds_count{app_name="hearth",method="GET",path="/health/live"'
        not in (response.text)
    )  # health checks are excluded
    assert 'app_name="hearth"' in response.text
    assert "request_duration_seconds" in response.text


def _handlers(app: Litestar) -> list[tuple[str, Any]]:
    """(path, handler) for every route we wrote (not Litestar's OPTIONS or schema routes)."""
    return [
        (route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if not route.path.startswith("/schema") and handler.http_methods != {"OPTIONS"}
    ]


def test_every_route_declares_who_may_call_it(settings: Any) -> None:
    """A route is public on purpose, or guarded by a role list and documented as needing a token."""
    app = create_app(settings)
    undeclared = []
    for path, handler in _handlers(app):
        public = handler.opt.get("public") is True
        guarded = any(hasattr(g, "allowed_roles") for g in handler.guards or [])
        documented = bool(handler.resolve_security())
        if public == guarded or documented != guarded:  # neither, both, or undocumented
            undeclared.append(f"{sorted(handler.http_methods)} {path}")
    assert undeclared == []


def test_public_routes_are_the_expected_few(settings: Any) -> None:
    app = create_app(settings)
    public = sorted(path for path, handler in _handlers(app) if handler.opt.get("public") is True)
    assert public == sorted(EXPECTED_PUBLIC)
    assert PUBLIC == {"public": True}


EXPECTED_PUBLIC = [
    "/health/live",
    "/health/ready",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/auth/invites/accept",
    "/auth/verify-email",
    "/clients/signup",
    # Stripe calls it with no token: the Stripe-Signature header is its authentication.
    "/webhooks/stripe",
]


async def test_an_undeclared_query_parameter_is_refused_naming_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.get("/payers?statuss=x", headers=token(ops))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "statuss", "message": "unknown query parameter 'statuss'"}
    ]
    assert (await client.get("/payers?limit=5", headers=token(ops))).status_code == 200


@pytest.mark.parametrize("value", ["-19823194661", "1700000000", "0.0"])
async def test_a_date_query_parameter_must_be_iso(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, value: str
) -> None:
    ops = await make_ops(db)
    response = await client.get(f"/therapy-sessions?from={value}", headers=token(ops))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "from"
    ok = await client.get("/therapy-sessions?from=2026-11-01T00:00:00Z", headers=token(ops))
    assert ok.status_code == 200
