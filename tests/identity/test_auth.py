"""Login, refresh rotation and reuse, logout, invitations, password change.

The login and password-change limits are in test_login_limits.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import SYSTEM, Actor, issue_access_token
from services.core.settings import Settings
from services.identity.service import create_invite, create_user
from tests.factories import make_ops

PASSWORD = "correct horse battery"


async def _user(db: asyncpg.Connection, settings: Settings, role: str = "ops") -> str:
    email = f"user-{uuid.uuid4().hex[:10]}@example.test"
    await create_user(db, settings, email, role, PASSWORD)  # type: ignore[arg-type]
    return email


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_login_returns_tokens_that_open_me(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = await _user(db, settings)
    response = await _login(client, email)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == email
    assert me.json()["role"] == "ops"


async def test_wrong_password_and_unknown_email_answer_the_same_401(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = await _user(db, settings)
    wrong = await _login(client, email, "not the password at all")
    unknown = await _login(client, "nobody@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"].startswith("application/problem+json")


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = await _user(db, settings)
    first = (await _login(client, email)).json()["refresh_token"]
    second = await client.post("/auth/refresh", json={"refresh_token": first})
    assert second.status_code == 200
    rotated = second.json()["refresh_token"]
    assert rotated != first

    replay = await client.post("/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    # The reuse revoked the family: the rotated token, never used, is dead too.
    after = await client.post("/auth/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = await _user(db, settings)
    refresh = (await _login(client, email)).json()["refresh_token"]
    assert (await client.post("/auth/logout", json={"refresh_token": refresh})).status_code == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": refresh})).status_code == 401


async def test_password_change_revokes_refresh_tokens_and_old_password(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = await _user(db, settings)
    tokens = (await _login(client, email)).json()
    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert changed.status_code == 200, changed.text
    assert (
        await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    assert (await _login(client, email)).status_code == 401
    assert (await _login(client, email, "a brand new passphrase")).status_code == 200


async def test_invite_is_single_use(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email = f"invited-{uuid.uuid4().hex[:8]}@example.test"
    user_id = await create_user(db, settings, email, "ops", None)
    token, _ = await create_invite(db, settings, user_id, None)
    assert (await _login(client, email, "anything at all here")).status_code == 401
    body = {"token": token, "password": "my chosen passphrase"}
    assert (await client.post("/auth/invites/accept", json=body)).status_code == 200
    assert (await client.post("/auth/invites/accept", json=body)).status_code == 401
    assert (await _login(client, email, "my chosen passphrase")).status_code == 200


async def test_no_token_is_401_and_a_forged_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/auth/me")).status_code == 401
    forged = await client.get("/auth/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_cannot_carry_the_system_role(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    """The jobs' actor sees what ops see: no route may ever receive it from a token, even one we
    signed for a real user."""
    ops = await make_ops(db)
    system_claim = Actor(user_id=ops.user_id, role="system")
    signed = issue_access_token(system_claim, settings, version=0, session_id=uuid.uuid4())
    headers = {"Authorization": f"Bearer {signed}"}
    for path in ("/auth/me", "/clients", f"/clients/{uuid.uuid4()}"):
        answer = await client.get(path, headers=headers)
        assert answer.status_code == 401, path
    # The same user's token with the ops role opens those routes (the refusal is the role's).
    real = issue_access_token(ops, settings, version=0, session_id=uuid.uuid4())
    assert (await client.get("/clients", headers={"Authorization": f"Bearer {real}"})).is_success


def test_the_system_actor_has_no_user() -> None:
    assert SYSTEM.user_id is None
    assert SYSTEM.role == "system"
    with pytest.raises(TypeError, match="not a user"):
        _ = SYSTEM.user
