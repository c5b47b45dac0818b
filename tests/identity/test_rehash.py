"""A password hash made with older argon2 parameters is replaced at the next good login only."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from argon2 import PasswordHasher

from services.core.settings import Settings

PASSWORD = "correct horse battery"


async def _user_with_old_hash(db: asyncpg.Connection, settings: Settings) -> tuple[str, str]:
    # Weaker than the configured parameters, as a hash from before an upgrade would be.
    old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(PASSWORD)
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) != (1, 512)
    email = f"old-hash-{uuid.uuid4().hex[:10]}@example.test"
    await db.execute(
        "INSERT INTO users (email, role, password_hash) VALUES ($1, 'ops', $2)", email, old
    )
    return email, old


async def _stored(db: asyncpg.Connection, email: str) -> str:
    value: str = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    return value


async def test_a_successful_login_rehashes_with_the_current_parameters(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email, old = await _user_with_old_hash(db, settings)
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    new = await _stored(db, email)
    assert new != old
    assert f"m={settings.argon2_memory_kib},t={settings.argon2_time_cost},p=1" in new
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib, parallelism=1
    )
    assert hasher.verify(new, PASSWORD)
    assert not hasher.check_needs_rehash(new)
    # The same password: not a password change, so the sign-in just made stays valid.
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.status_code == 200
    again = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert again.status_code == 200
    assert await _stored(db, email) == new  # current parameters: left alone


async def test_a_failed_login_leaves_the_old_hash(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings
) -> None:
    email, old = await _user_with_old_hash(db, settings)
    response = await client.post(
        "/auth/login", json={"email": email, "password": "not the password at all"}
    )
    assert response.status_code == 401
    assert await _stored(db, email) == old
