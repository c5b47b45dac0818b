"""Connect's webhooks end to end, through the Stripe simulator's HTTP deliveries to the API on a
real socket: a provider's account.updated (an event of the connected account) arrives from the
Connect endpoint signed with that endpoint's own secret, is stored once (duplicates included)
and applied; the platform's own events still arrive from the account endpoint with theirs; an
endpoint signing with a secret Hearth does not know is refused."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import stripe
import uvicorn

from services.app import create_app
from services.core.auth import Actor
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests import factories as f
from tests.payments import world as w
from tests.stripesim import API_KEY, CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


@pytest.fixture
async def live_api(committed_db: str, settings: Settings, stripe_sim: str) -> AsyncIterator[str]:
    """The API served by uvicorn on a free port of 127.0.0.1 (the simulator posts to it)."""
    live = msgspec.structs.replace(
        settings, database_url=committed_db, stripe_api_base=stripe_sim, stripe_api_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET, stripe_connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
    )  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(live), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await _until(lambda: _true(server.started and not task.done()))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


async def _true(value: bool) -> bool:
    return value


async def _until(check: Callable[[], Awaitable[Any]], within_s: float = 20) -> Any:
    """check()'s first truthy answer, polled until `within_s` passes."""
    deadline = time.monotonic() + within_s
    for _ in range(int(within_s / 0.05) + 1):
        if found := await check():
            return found
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


@dataclass
class Connected:
    """The live API, the simulator's two endpoints at it, a provider with a Connect account."""

    api: httpx.AsyncClient
    admin: httpx.AsyncClient
    pool: asyncpg.Pool
    tx: Transactions
    provider: Actor
    account_id: str
    url: str

    async def count(self, sql: str) -> int:
        return int(await self.pool.fetchval(sql))

    async def deliveries(self, event_type: str, at_least: int) -> list[tuple[str, int | None]]:
        """(endpoint, status) of each attempt at `event_type`, once there are `at_least`."""

        async def found() -> list[tuple[str, int | None]]:
            log = (await self.admin.get("/_admin/webhooks/deliveries")).json()["items"]
            seen = sorted((a["endpoint"], a["status"]) for a in log if a["type"] == event_type)
            return seen if len(seen) >= at_least else []

        return await _until(found)  # type: ignore[no-any-return]

    async def enabled(self) -> bool:
        sql = "SELECT payouts_enabled FROM payout_accounts WHERE provider_id = $1"
        return bool(await self.pool.fetchval(sql, self.provider.provider_id))


@pytest.fixture
async def connected(
    live_api: str, committed_db: str, stripe_admin: httpx.AsyncClient, token: Any
) -> AsyncIterator[Connected]:
    url = f"{live_api}/webhooks/stripe"
    config = {"webhook_retry_base_s": 0.05, "webhook_max_attempts": 1}
    assert (await stripe_admin.post("/_admin/config", json=config)).status_code == 200
    # In Stripe: an account endpoint and a Connect endpoint (connect=true), each its secret.
    for endpoint in ({"id": "we_account", "url": url, "secret": WEBHOOK_SECRET},
                     {"id": "we_connect", "url": url, "secret": CONNECT_WEBHOOK_SECRET,
                      "connect": True}):  # fmt: skip
        assert (await stripe_admin.post("/_admin/webhooks", json=endpoint)).status_code == 200
    pool = await create_pool(committed_db, min_size=1, max_size=3)
    try:
        async with transaction(pool) as conn:
            provider = await f.make_provider_actor(conn)
        async with httpx.AsyncClient(base_url=live_api, timeout=30) as api:
            path = f"/providers/{provider.provider_id}/payout-account"
            made = await api.post(path, headers=token(provider))
            assert made.status_code == 201, made.text
            yield Connected(api, stripe_admin, pool, Transactions(lambda: pool.acquire()),
                            provider, made.json()["stripe_account_id"], url)  # fmt: skip
    finally:
        await pool.close()


async def _handled(c: Connected, gateway: StripeGateway) -> list[str]:
    async with c.pool.acquire() as conn:
        return await w.run_events(conn, c.tx, gateway)


UPDATED = "SELECT count(*) FROM stripe_events WHERE type = 'account.updated'"


async def test_a_connected_accounts_event_arrives_by_the_connect_endpoint_and_is_applied(
    connected: Connected, stripe_client: stripe.StripeClient, gateway: StripeGateway,
    token: Any,
) -> None:  # fmt: skip
    c = connected
    # Stripe disables payouts: its account.updated comes by the Connect endpoint only.
    stripe_client.v1.accounts.update(c.account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    assert await c.deliveries("account.updated", 1) == [("we_connect", 200)]
    assert await c.count(UPDATED) == 1
    assert await _handled(c, gateway) == ["account updated"]
    assert await c.enabled() is False
    # Delivered twice (Stripe repeats itself): stored and handled once.
    dup = {"duplicates": 1.0}
    assert (await c.admin.post("/_admin/webhooks/switches", json=dup)).is_success
    stripe_client.v1.accounts.update(c.account_id, params={"payouts_enabled": True})  # type: ignore[typeddict-unknown-key]
    assert await c.deliveries("account.updated", 3) == [("we_connect", 200)] * 3
    assert await c.count(UPDATED) == 2
    assert await _handled(c, gateway) == ["account updated"]
    assert await c.enabled() is True
    path = f"/providers/{c.provider.provider_id}/payout-account"
    assert (await c.api.get(path, headers=token(c.provider))).json()["payouts_enabled"] is True


async def test_platform_events_keep_their_endpoint_and_an_unknown_secret_is_refused(
    connected: Connected, stripe_client: stripe.StripeClient
) -> None:
    c = connected
    # The platform's own events come by the account endpoint, with its secret.
    stripe_client.v1.topups.create(params={"amount": 1_000, "currency": "usd"})
    assert await c.deliveries("topup.succeeded", 1) == [("we_account", 200)]
    assert await c.deliveries("topup.created", 1) == [("we_account", 200)]
    # A Connect endpoint whose secret Hearth was not given: refused, nothing stored.
    wrong = {"id": "we_wrong", "url": c.url, "secret": "whsec_not_hearths_0123456789",
             "connect": True}  # fmt: skip
    assert (await c.admin.post("/_admin/webhooks", json=wrong)).status_code == 200
    stripe_client.v1.accounts.update(c.account_id, params={"metadata": {"n": "3"}})
    assert await c.deliveries("account.updated", 2) == [("we_connect", 200), ("we_wrong", 400)]
    assert await c.count(UPDATED) == 1
    assert await c.count("SELECT count(*) FROM stripe_events") == 3


async def test_either_endpoints_signature_is_accepted_and_the_event_id_stored_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings
) -> None:
    body = w.event("account.updated", "acct_1")
    account, connect = settings.stripe_webhook_secret, settings.stripe_connect_webhook_secret
    assert account != connect
    first = await w.deliver(api, body, connect)
    assert first.json() == {"received": True, "duplicate": False}
    # The same event id by the other endpoint (or again): a duplicate, nothing queued twice.
    assert (await w.deliver(api, body, account)).json()["duplicate"] is True
    # Several v1 signatures (Stripe's secret roll): one by a secret of ours is enough.
    other = w.event("account.updated", "acct_2")
    stranger = w.signed(other, "whsec_someone_else_0123")["Stripe-Signature"]
    ours = w.signed(other, connect)["Stripe-Signature"]
    header = f"{stranger},v1={ours.split('v1=')[1]}"
    headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
    assert (await api.post("/webhooks/stripe", content=other, headers=headers)).status_code == 200
    # Signed by neither: refused, nothing kept.
    third = w.event("account.updated", "acct_3")
    refused = await api.post("/webhooks/stripe", content=third,
                             headers=w.signed(third, "whsec_someone_else_0123"))  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (400, "bad_signature")
    assert await db.fetchval("SELECT count(*) FROM stripe_events") == 2
    jobs = await db.fetchval("SELECT count(*) FROM outbox WHERE job = 'handle_stripe_event'")
    assert jobs == 2
