"""Login and password change hold no pooled connection or transaction across argon2 or Redis.

A real app on a committed database: the login's password check is made to wait (the real
argon2 check runs once it is let go), and meanwhile other requests are served, by a pool of
one connection, or change the password under it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from services.core.settings import Settings
from services.identity import service
from services.identity.passwords import hash_password
from tests.servers import serve_app

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a new and different password"


async def _user(url: str, settings: Settings) -> str:
    email = f"short-{uuid.uuid4().hex[:10]}@example.test"
    hashed = await hash_password(PASSWORD, settings.argon2_time_cost, settings.argon2_memory_kib)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO users (email, role, password_hash) VALUES ($1, 'ops', $2)", email, hashed
        )
    finally:
        await conn.close()
    return email


class HeldCheck:
    """The first password check waits in the middle (where argon2 runs) until released."""

    def __init__(self, real: Callable[..., Awaitable[bool]]) -> None:
        self.real = real
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, *args: Any) -> bool:
        if not self.entered.is_set():
            self.entered.set()
            await self.release.wait()
        return await self.real(*args)

    async def during(
        self, held: Awaitable[httpx.Response], other: Callable[[], Awaitable[httpx.Response]]
    ) -> tuple[httpx.Response, httpx.Response]:
        """Answers of `held` (whose check waits) and of `other`, sent while it waits."""
        task = asyncio.ensure_future(held)
        await asyncio.wait_for(self.entered.wait(), 5)
        try:
            meanwhile = await other()
        finally:
            self.release.set()  # whatever `other` did: the app must be able to close
        return await task, meanwhile


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldCheck:
    check = HeldCheck(service.verify_password)
    monkeypatch.setattr(service, "verify_password", check)
    return check


async def test_a_pool_of_one_serves_others_while_a_login_sits_in_argon2(
    committed_db: str, settings: Settings, redis: Redis, held: HeldCheck
) -> None:
    small = msgspec.structs.replace(
        settings, database_url=committed_db, db_pool_min=1, db_pool_max=1, db_acquire_timeout_s=0.5
    )
    email = await _user(committed_db, small)
    async with serve_app(small, conn_provider=None) as client:
        # Were the login holding the only connection, the other would wait 0.5 s: 503.
        response, other = await held.during(
            client.post("/auth/login", json={"email": email, "password": PASSWORD}),
            lambda: client.post(
                "/auth/login", json={"email": "nobody@example.test", "password": PASSWORD}
            ),
        )
        assert other.status_code == 401, other.text
        assert response.status_code == 200, response.text
        me = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
        )
        assert me.status_code == 200


async def test_a_password_changed_during_the_check_does_not_let_the_old_one_in(
    committed_db: str, settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = msgspec.structs.replace(settings, database_url=committed_db)
    email = await _user(committed_db, live)
    async with serve_app(live, conn_provider=None) as client:
        first = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert first.status_code == 200, first.text
        bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
        held = HeldCheck(service.verify_password)
        monkeypatch.setattr(service, "verify_password", held)
        # The old password is checked right, but the owner changes it meanwhile.
        response, changed = await held.during(
            client.post("/auth/login", json={"email": email, "password": PASSWORD}),
            lambda: client.post(
                "/auth/password",
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                headers=bearer,
            ),
        )
        assert changed.status_code == 200, changed.text
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "bad_credentials"
        conn = await asyncpg.connect(committed_db)
        try:
            user_id = await conn.fetchval("SELECT id FROM users WHERE email = $1", email)
            # Two pairs only: the first login's (revoked by the change) and the change's own.
            tokens = await conn.fetchval(
                "SELECT count(*) FROM refresh_tokens WHERE user_id = $1", user_id
            )
        finally:
            await conn.close()
        assert tokens == 2
        new = await client.post("/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert new.status_code == 200, new.text


async def test_a_password_change_raced_by_another_keeps_only_the_first(
    committed_db: str, settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = msgspec.structs.replace(settings, database_url=committed_db)
    email = await _user(committed_db, live)
    async with serve_app(live, conn_provider=None) as client:
        first = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        second = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        held = HeldCheck(service.verify_password)
        monkeypatch.setattr(service, "verify_password", held)
        response, fast = await held.during(
            client.post(
                "/auth/password",
                json={"current_password": PASSWORD, "new_password": "the slow one's password"},
                headers={"Authorization": f"Bearer {first.json()['access_token']}"},
            ),
            lambda: client.post(
                "/auth/password",
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                headers={"Authorization": f"Bearer {second.json()['access_token']}"},
            ),
        )
        assert fast.status_code == 200, fast.text
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "bad_credentials"
        new = await client.post("/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert new.status_code == 200, new.text
