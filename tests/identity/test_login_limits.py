"""Login and password-change limits: each test names the attack its limit stops.

The app runs behind a trusted proxy here (HEARTH_TRUSTED_PROXIES is the test peer), so each
request's X-Forwarded-For is its client address: one test process plays many addresses.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from services.core.auth import Actor
from services.core.settings import Settings, SettingsError, load_settings
from services.identity.ratelimit import account_delay_s
from services.identity.service import create_user
from tests.conftest import _test_conn
from tests.servers import serve_app

PASSWORD = "correct horse battery"
WRONG = "wrong password here"
PROXY = "198.51.100.10"  # the peer every request comes from: our load balancer

Serve = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def serve(settings: Settings, db: asyncpg.Connection, redis: Redis) -> Serve:
    """serve(**settings) -> the API behind the trusted proxy, over the test's transaction."""

    def make(peer: str = PROXY, **overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        overrides.setdefault("trusted_proxies", PROXY)
        limited = msgspec.structs.replace(settings, **overrides)
        return serve_app(limited, peer=peer, conn_provider=_test_conn)

    return make


def address() -> str:
    """A client address no other test uses."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


async def _user(db: asyncpg.Connection, settings: Settings) -> tuple[str, uuid.UUID]:
    email = f"limited-{uuid.uuid4().hex[:10]}@example.test"
    user_id = await create_user(db, settings, email, "ops", PASSWORD)
    return email, user_id


async def login(client: httpx.AsyncClient, email: str, password: str, addr: str) -> Any:
    return await client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": addr},
    )


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return int(response.headers["retry-after"])


async def test_password_spraying_from_one_address_is_blocked_for_that_address(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: one address tries a common password on many accounts."""
    email, _ = await _user(db, settings)
    sprayer = address()
    async with serve(login_max_failures_per_address=8) as client:
        for i in range(8):
            spray = await login(
                client, f"spray-{i}-{uuid.uuid4().hex[:6]}@example.test", WRONG, sprayer
            )
            assert spray.status_code == 401
        assert 0 < retry_after(await login(client, email, WRONG, sprayer)) <= 900
        # The block is the sprayer's: the account's owner elsewhere is not touched.
        assert (await login(client, email, PASSWORD, address())).status_code == 200


async def test_one_address_guessing_one_account_is_blocked_but_not_the_owner(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: one address guessing one account's password; and a stranger locking it out.

    Before the pair limit, the account itself was blocked: six wrong passwords locked out its
    owner, ops included, for 15 minutes.
    """
    email, _ = await _user(db, settings)
    guesser = address()
    async with serve() as client:
        for _ in range(settings.login_max_failures_per_pair):
            assert (await login(client, email, WRONG, guesser)).status_code == 401
        # Even the right password waits, from this address: it is the guesser's.
        assert retry_after(await login(client, email, PASSWORD, guesser)) > 0
        assert (await login(client, email, PASSWORD, address())).status_code == 200


async def test_a_guesser_rotating_addresses_is_slowed_to_one_attempt_per_delay(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: a targeted guesser on one account, a new address each try (dodging the others)."""
    email, _ = await _user(db, settings)
    limits = {"login_account_free_attempts": 3, "login_account_delay_base_s": 30}
    async with serve(**limits) as client:
        for _ in range(3):
            assert (await login(client, email, WRONG, address())).status_code == 401
        # The fourth attempt takes the account's 30 s gate; every other one waits it out.
        assert (await login(client, email, WRONG, address())).status_code == 401
        for _ in range(5):
            assert 20 <= retry_after(await login(client, email, WRONG, address())) <= 30


async def test_a_stranger_cannot_slow_the_owner_at_an_address_they_signed_in_from(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: a stranger hammering an account from many addresses to keep its owner out."""
    email, _ = await _user(db, settings)
    home = address()
    async with serve() as client:
        assert (await login(client, email, PASSWORD, home)).status_code == 200
        statuses = [(await login(client, email, WRONG, address())).status_code for _ in range(12)]
        assert statuses[-1] == 429  # the account is being slowed down ...
        # ... but not for its owner at home.
        assert (await login(client, email, PASSWORD, home)).status_code == 200


async def test_the_owner_at_a_new_address_waits_at_most_the_cap_never_the_window(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: a stranger keeping the owner out; at a new address the owner is only delayed."""
    email, _ = await _user(db, settings)
    limits = {
        "login_account_free_attempts": 2,
        "login_account_delay_base_s": 1,
        "login_account_delay_cap_s": 1,
    }
    async with serve(**limits) as client:
        for _ in range(10):
            assert (await login(client, email, WRONG, address())).status_code in (401, 429)
        owner = address()
        started = time.monotonic()
        answer = await login(client, email, PASSWORD, owner)
        while answer.status_code == 429:
            wait = retry_after(answer)
            assert wait <= 1  # the cap, never the window
            await asyncio.sleep(wait + 0.1)
            answer = await login(client, email, PASSWORD, owner)
        assert answer.status_code == 200
        assert time.monotonic() - started < 3


async def test_a_successful_login_clears_its_pairs_failures(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """The owner's typos are forgiven once they get in: their address is not blocked later."""
    email, _ = await _user(db, settings)
    home = address()
    async with serve(login_account_free_attempts=100) as client:
        for _ in range(4):
            assert (await login(client, email, WRONG, home)).status_code == 401
        assert (await login(client, email, PASSWORD, home)).status_code == 200
        for _ in range(settings.login_max_failures_per_pair):
            assert (await login(client, email, WRONG, home)).status_code == 401
        assert retry_after(await login(client, email, WRONG, home)) > 0


def test_the_account_delay_doubles_to_its_cap_allowing_about_a_guess_a_minute() -> None:
    """Attack: a patient guesser with unlimited addresses: how many guesses an hour they get."""
    settings = Settings(env="test")
    delays = [account_delay_s(n, settings) for n in range(1, 14)]
    assert delays == [0, 0, 0, 0, 0, 2, 4, 8, 16, 32, 60, 60, 60]
    guesses, elapsed = 0, 0
    while elapsed < 3600:
        guesses += 1
        elapsed += account_delay_s(guesses + 1, settings)
    assert guesses <= 70


async def test_behind_a_trusted_proxy_the_limit_keys_on_the_forwarded_address(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """HEARTH_TRUSTED_PROXIES: behind our balancer, users do not share the balancer's bucket."""
    email, _ = await _user(db, settings)
    sprayer, bystander = address(), address()
    async with serve(login_max_failures_per_address=3) as client:
        for _ in range(3):
            assert (
                await login(client, f"x-{uuid.uuid4().hex[:8]}@e.test", WRONG, sprayer)
            ).status_code == 401
        assert retry_after(await login(client, email, PASSWORD, sprayer)) > 0
        # Same peer (the balancer), another forwarded client: a bucket of its own.
        assert (await login(client, email, PASSWORD, bystander)).status_code == 200


async def test_an_untrusted_peers_forwarded_for_is_ignored(
    serve: Serve, db: asyncpg.Connection, settings: Settings
) -> None:
    """Attack: a sprayer forging X-Forwarded-For to get a fresh address bucket per request."""
    email, _ = await _user(db, settings)
    async with serve(peer="192.0.2.99", login_max_failures_per_address=3) as client:
        for _ in range(3):
            assert (
                await login(client, f"x-{uuid.uuid4().hex[:8]}@e.test", WRONG, address())
            ).status_code == 401
        assert retry_after(await login(client, email, PASSWORD, address())) > 0


@pytest.fixture
async def password_client(serve: Serve) -> AsyncGenerator[httpx.AsyncClient, None]:
    async with serve() as client:
        yield client


async def test_wrong_current_passwords_are_limited_per_user(
    password_client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    """Attack: a stolen access token used to guess the account's password on POST /auth/password."""
    _, user_id = await _user(db, settings)
    headers = token(Actor(user_id=user_id, role="ops"))
    wrong = {"current_password": WRONG, "new_password": "a brand new passphrase"}
    right = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    for _ in range(settings.password_change_max_failures):
        answer = await password_client.post("/auth/password", json=wrong, headers=headers)
        assert answer.status_code == 401
    limited = await password_client.post("/auth/password", json=right, headers=headers)
    assert 0 < retry_after(limited) <= settings.password_change_window_s


async def test_a_right_current_password_clears_the_password_change_count(
    password_client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    _, user_id = await _user(db, settings)
    headers = token(Actor(user_id=user_id, role="ops"))
    passwords = [PASSWORD, "a brand new passphrase", "a third passphrase"]
    for current, new in itertools.pairwise(passwords):
        for _ in range(settings.password_change_max_failures - 1):
            body = {"current_password": WRONG, "new_password": new}
            assert (
                await password_client.post("/auth/password", json=body, headers=headers)
            ).status_code == 401
        body = {"current_password": current, "new_password": new}
        answer = await password_client.post("/auth/password", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        # A password change may end the old token's validity: go on with the new one.
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_limit_settings_are_read_and_a_base_delay_over_the_cap_is_refused() -> None:
    env = {
        "HEARTH_ENV": "test",
        "HEARTH_LOGIN_MAX_FAILURES_PER_PAIR": "7",
        "HEARTH_LOGIN_ACCOUNT_DELAY_CAP_S": "30",
        "HEARTH_PASSWORD_CHANGE_MAX_FAILURES": "3",
    }
    loaded = load_settings(env)
    assert (loaded.login_max_failures_per_pair, loaded.login_account_delay_cap_s) == (7, 30)
    assert loaded.password_change_max_failures == 3
    with pytest.raises(SettingsError, match="HEARTH_LOGIN_ACCOUNT_DELAY_BASE_S"):
        load_settings({**env, "HEARTH_LOGIN_ACCOUNT_DELAY_BASE_S": "31"})
