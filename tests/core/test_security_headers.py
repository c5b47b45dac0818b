"""Security headers on every response, and the OpenAPI document per environment and setting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from services.app import close_resources, create_app, open_resources
from services.core.auth import issue_access_token
from services.core.settings import Settings, load_settings
from tests.clients.helpers import signup_body
from tests.factories import PASSWORD, make_client, make_ops, make_provider

NOSNIFF = ("x-content-type-options", "nosniff")
NO_STORE = ("cache-control", "no-store")


def _has(response: httpx.Response, header: tuple[str, str]) -> bool:
    return response.headers.get(header[0]) == header[1]


async def test_responses_carrying_tokens_or_phi_are_never_stored(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    signup = await client.post("/clients/signup", json=signup_body())
    assert signup.status_code == 202, signup.text
    owner = await make_client(db, settings)
    address = await db.fetchval("SELECT email FROM users WHERE id = $1", owner.user_id)
    login = await client.post("/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert "access_token" in login.text
    provider = await make_provider(db, settings)
    me = await client.get("/providers/me", headers=token(provider))
    assert me.status_code == 200
    refused = await client.get("/providers/me")  # errors too: problem details
    unknown = await client.get("/no-such-route")
    live = await client.get("/health/live")
    for response in (signup, login, me, refused, unknown, live):
        assert _has(response, NO_STORE), response.headers
        assert _has(response, NOSNIFF), response.headers
        assert response.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in response.headers  # not production


@pytest.fixture
async def production_api(
    committed_db: str, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """The app as production builds it (HEARTH_OPENAPI unset), over a database of its own."""
    production = msgspec.structs.replace(settings, env="production", database_url=committed_db)
    app = create_app(production)
    await open_resources(app, production)
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://hearth.test") as api:
            yield api, production
    finally:
        await close_resources(app)


async def _bearer(committed_db: str, settings: Settings, role: str) -> dict[str, str]:
    conn = await asyncpg.connect(committed_db)
    try:
        if role == "ops":
            actor = await make_ops(conn)
        else:
            actor = await make_provider(conn, settings)
    finally:
        await conn.close()
    signed = issue_access_token(actor, settings, version=0, session_id=uuid.uuid4())
    return {"Authorization": f"Bearer {signed}"}


async def test_production_sends_hsts_and_serves_the_document_to_ops_only_without_viewers(
    production_api: tuple[httpx.AsyncClient, Settings], committed_db: str
) -> None:
    api, production = production_api
    live = await api.get("/health/live")
    assert live.headers["strict-transport-security"].startswith("max-age=")
    assert _has(live, NOSNIFF)
    ops = await _bearer(committed_db, production, "ops")
    provider = await _bearer(committed_db, production, "provider")
    assert (await api.get("/schema/openapi.json")).status_code == 401
    assert (await api.get("/schema/openapi.json", headers=provider)).status_code == 403
    document = await api.get("/schema/openapi.json", headers=ops)
    assert document.status_code == 200
    assert document.json()["info"]["title"] == "Hearth API"
    assert _has(document, NOSNIFF)
    # No viewer page (each loads its scripts from a CDN) at any of their paths.
    for path in ("/schema", "/schema/swagger", "/schema/scalar", "/schema/redoc"):
        page = await api.get(path, headers=ops)
        assert "<script" not in page.text, path
        assert "cdn" not in page.text.lower(), path


async def test_development_keeps_the_public_document_and_its_viewers(
    client: httpx.AsyncClient,
) -> None:
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    viewer = await client.get("/schema")
    assert viewer.status_code == 200
    assert "<script" in viewer.text


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("production", None, "ops"),
        ("production", "public", "public"),
        ("production", "off", "off"),
        ("development", None, "public"),
        ("test", "ops", "ops"),
    ],
)
def test_openapi_access_per_environment_and_setting(
    env: str, value: str | None, expected: str
) -> None:
    environ = {"HEARTH_ENV": "test"} if env == "production" else {"HEARTH_ENV": env}
    if value is not None:
        environ["HEARTH_OPENAPI"] = value
    settings = msgspec.structs.replace(load_settings(environ), env=env)
    assert settings.openapi_access == expected


async def test_public_production_document_has_no_viewers_and_off_serves_nothing(
    settings: Settings,
) -> None:
    for openapi, status in (("public", 200), ("off", 404)):
        app = create_app(msgspec.structs.replace(settings, env="production", openapi=openapi))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hearth.test") as api:
            assert (await api.get("/schema/openapi.json")).status_code == status
            assert "<script" not in (await api.get("/schema")).text
