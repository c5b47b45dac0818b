"""Access tokens are checked against their user on every request, and revocable at once.

Each test signs in through the API (or signs a token like the API does) and then changes what
the token rests on: its sign-in, the password, the user's state, role or profile.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from services.core.auth import Actor
from services.core.settings import Settings
from services.identity.service import create_user
from tests.factories import make_client, make_ops, make_provider

PASSWORD = "correct horse battery"


async def _signed_in(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> tuple[str, dict[str, Any]]:
    email = f"user-{uuid.uuid4().hex[:10]}@example.test"
    await create_user(db, settings, email, "ops", PASSWORD)
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return email, response.json()


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _assert_revoked(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "token_revoked"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_ends_the_access_token_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, tokens = await _signed_in(client, db, settings)
    _, other = await _signed_in(client, db, settings)
    assert (await client.get("/payers", headers=_bearer(tokens))).status_code == 200
    out = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    _assert_revoked(await client.get("/payers", headers=_bearer(tokens)))
    _assert_revoked(await client.get("/auth/me", headers=_bearer(tokens)))
    # Another sign-in is not touched.
    assert (await client.get("/payers", headers=_bearer(other))).status_code == 200


async def test_a_refreshed_sign_in_keeps_working_until_its_family_is_logged_out(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, first = await _signed_in(client, db, settings)
    rotated = (
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert (await client.get("/auth/me", headers=_bearer(first))).status_code == 200
    assert (await client.get("/auth/me", headers=_bearer(rotated))).status_code == 200
    # Logging out with the newest refresh token ends every access token of the sign-in.
    await client.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    _assert_revoked(await client.get("/auth/me", headers=_bearer(first)))
    _assert_revoked(await client.get("/auth/me", headers=_bearer(rotated)))


async def test_a_reused_refresh_token_ends_the_access_tokens_of_its_family(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    _, tokens = await _signed_in(client, db, settings)
    await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    replay = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    _assert_revoked(await client.get("/auth/me", headers=_bearer(tokens)))


async def test_password_change_ends_old_access_tokens_and_the_new_one_works(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    email, tokens = await _signed_in(client, db, settings)
    _, elsewhere = await _signed_in(client, db, settings)
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
    signed = token(Actor(user_id=user_id, role="ops"))  # a token of no sign-in at all
    assert (await client.get("/auth/me", headers=signed)).status_code == 200
    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=_bearer(tokens),
    )
    assert changed.status_code == 200, changed.text
    _assert_revoked(await client.get("/auth/me", headers=_bearer(tokens)))
    _assert_revoked(await client.get("/auth/me", headers=signed))
    me = await client.get("/auth/me", headers=_bearer(changed.json()))
    assert me.status_code == 200
    assert me.json()["email"] == email
    # Someone else's sign-in is not touched.
    assert (await client.get("/auth/me", headers=_bearer(elsewhere))).status_code == 200


async def test_disabling_a_user_ends_their_tokens_and_enabling_lets_them_sign_in_again(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = token(await make_ops(db))
    email, tokens = await _signed_in(client, db, settings)
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
    disabled = await client.post(f"/users/{user_id}/disable", headers=ops)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled_at"] is not None
    _assert_revoked(await client.get("/payers", headers=_bearer(tokens)))
    refresh = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    login = {"email": email, "password": PASSWORD}
    assert (await client.post("/auth/login", json=login)).status_code == 401

    enabled = await client.post(f"/users/{user_id}/enable", headers=ops)
    assert enabled.status_code == 200
    assert enabled.json()["disabled_at"] is None
    _assert_revoked(await client.get("/payers", headers=_bearer(tokens)))  # stays ended
    again = await client.post("/auth/login", json=login)
    assert again.status_code == 200
    assert (await client.get("/payers", headers=_bearer(again.json()))).status_code == 200


async def test_a_forged_token_for_a_user_that_does_not_exist_is_401(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    await make_client(db, settings)  # there is a client to read
    forged = token(Actor(user_id=uuid.uuid4(), role="ops"))
    _assert_revoked(await client.get("/clients", headers=forged))
    _assert_revoked(await client.get("/auth/me", headers=forged))


async def test_a_token_whose_role_or_profile_is_not_the_users_is_401(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_client(db, settings)
    provider = await make_provider(db, settings)
    other = await make_provider(db, settings)
    assert (await client.get("/auth/me", headers=token(me))).status_code == 200
    # A client's user id with the ops role (the role in the token is not the user's).
    _assert_revoked(
        await client.get("/clients", headers=token(Actor(user_id=me.user_id, role="ops")))
    )
    # A provider's user id with another provider's profile.
    swapped = Actor(user_id=provider.user_id, role="provider", provider_id=other.provider_id)
    _assert_revoked(await client.get("/providers/me", headers=token(swapped)))
    # The user's role changed after the token was signed.
    await db.execute("UPDATE users SET role = 'client' WHERE id = $1", provider.user_id)
    _assert_revoked(await client.get("/providers/me", headers=token(provider)))
