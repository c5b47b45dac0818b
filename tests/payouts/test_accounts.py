"""Provider payout accounts against the Stripe simulator: created once (a repeat, a lost
answer, an error answer, concurrent requests), their status from account.updated (a replay
changes nothing), and who may see them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.auth import Actor
from services.core.db import transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from services.payouts.accounts import create_payout_account, refresh_unpayable
from services.payouts.connect import ConnectGateway
from services.payouts.errors import StripeUnavailable
from tests import factories as f
from tests.payments import world as w
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")
APP = "https://app.hearth.test"
# Stripe makes the account but its answer is lost (a timeout after the work).
LOSE_CREATE = {"kind": "timeout", "path_prefix": "/v1/accounts", "method": "POST", "count": 1,
               "delay_s": 0.5, "after": True}  # fmt: skip


async def _create_losing_the_answer(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_admin: httpx.AsyncClient, token: Any
) -> tuple[Actor, str, httpx.Response]:
    """(provider, its payout-account path, the POST's answer): the create's answer lost."""
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-account"
    assert (await stripe_admin.post("/_admin/faults", json=LOSE_CREATE)).status_code == 200
    return provider, url, await api.post(url, headers=token(provider))


def _ours(sdk: stripe.StripeClient, provider_id: uuid.UUID) -> list[Any]:
    return [a for a in sdk.v1.accounts.list(params={"limit": 100}).data
            if a.metadata.to_dict().get("hearth_provider_id") == str(provider_id)]  # fmt: skip


async def test_created_once_and_read_back(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    me = token(provider)
    url = f"/providers/{provider.provider_id}/payout-account"
    assert (await api.get(url, headers=me)).status_code == 404
    made = await api.post(url, headers=me)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["stripe_account_id"].startswith("acct_")
    assert (body["payouts_enabled"], body["requirements_due"]) == (True, [])
    page = await stripe_admin.get(body["onboarding_url"])
    assert (page.status_code, body["stripe_account_id"] in page.text) == (200, True)
    assert datetime.fromisoformat(body["onboarding_expires_at"]) > clock.now()
    again = await api.post(url, headers=me)
    assert (again.status_code, again.json()["stripe_account_id"]) == (
        200, body["stripe_account_id"])  # fmt: skip
    assert again.json()["onboarding_url"] is not None
    shown = (await api.get(url, headers=me)).json()
    assert shown["stripe_account_id"] == body["stripe_account_id"]
    assert shown["onboarding_url"] is None
    assert len(_ours(stripe_client, provider.provider_id)) == 1  # type: ignore[arg-type]


async def test_a_lost_answer_is_looked_up_not_created_again(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider, url, lost = await _create_losing_the_answer(db, api, stripe_admin, token)
    assert (lost.status_code, lost.json()["code"]) == (503, "stripe_unavailable")
    row = await db.fetchrow("SELECT stripe_account_id, attempt, called_at FROM payout_accounts")
    assert row["stripe_account_id"] is None
    assert row["called_at"] is not None
    assert len(_ours(stripe_client, provider.provider_id)) == 1  # type: ignore[arg-type]
    # A day later the key is forgotten: only the lookup keeps a second account from being made.
    assert (await stripe_admin.post("/_admin/clock", json={"advance_s": 90_000})).status_code == 200
    found = await api.post(url, headers=token(provider))
    assert found.status_code == 201, found.text
    (account,) = _ours(stripe_client, provider.provider_id)  # type: ignore[arg-type]
    assert found.json()["stripe_account_id"] == account.id


async def test_an_error_answer_takes_the_next_key(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-account"
    fail = {"kind": "error", "path_prefix": "/v1/accounts", "method": "POST", "count": 1,
            "status": 500}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=fail)).status_code == 200
    assert (await api.post(url, headers=token(provider))).status_code == 503
    assert await db.fetchval("SELECT attempt FROM payout_accounts") == 2
    assert (await api.post(url, headers=token(provider))).status_code == 201
    assert len(_ours(stripe_client, provider.provider_id)) == 1  # type: ignore[arg-type]


async def test_concurrent_requests_make_one_account(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient,
) -> None:  # fmt: skip
    slow = {"kind": "slow", "path_prefix": "/v1/accounts", "method": "POST", "count": 1,
            "delay_s": 0.5}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=slow)).status_code == 200
    pool = await asyncpg.create_pool(committed_db, min_size=1, max_size=6)
    try:
        async with transaction(pool) as conn:
            provider = await f.make_provider_actor(conn)
            ops = await f.make_ops(conn)
        tx = Transactions(lambda: pool.acquire())
        connect = ConnectGateway.of(gateway)
        pid = provider.provider_id
        assert pid is not None
        tries = [create_payout_account(tx, connect, who, pid, APP) for who in (provider, ops) * 3]
        answers = await asyncio.gather(*tries, return_exceptions=True)
        # Some wait out the first call (409 in flight: 503, try again), none make a second one.
        assert all(isinstance(a, tuple | StripeUnavailable) for a in answers), answers
        ids = {a[0].stripe_account_id for a in answers if isinstance(a, tuple)}
        (account,) = _ours(stripe_client, pid)
        assert ids == {account.id}
        out, made = await create_payout_account(tx, connect, ops, pid, APP)
        assert (out.stripe_account_id, made) == (account.id, False)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM payout_accounts") == 1
    finally:
        await pool.close()


async def test_account_updated_is_applied_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: Any,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-account"
    account_id = (await api.post(url, headers=token(provider))).json()["stripe_account_id"]
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    secret = settings.stripe_webhook_secret
    body = w.event("account.updated", account_id)
    assert (await w.deliver(api, body, secret)).status_code == 200
    assert await w.run_events(db, tx, gateway) == ["account updated"]
    assert (await api.get(url, headers=token(provider))).json()["payouts_enabled"] is False
    # The same delivery again is a duplicate; a new delivery of the same change changes nothing.
    assert (await w.deliver(api, body, secret)).json()["duplicate"] is True
    replayed = await w.deliver(api, w.event("account.updated", account_id), secret)
    assert replayed.status_code == 200
    assert await w.run_events(db, tx, gateway) == ["account unchanged"]
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout_account' AND action = 'update'"
    )
    assert audited == 1
    # An account that is not ours is left alone.
    other = stripe_client.v1.accounts.create(params={"type": "express"})
    assert (await w.deliver(api, w.event("account.updated", other.id), secret)).status_code == 200
    assert await w.run_events(db, tx, gateway) == ["not our account"]


WHO = [("none", 401), ("client", 403), ("other", 404), ("own", 200), ("ops", 200)]


@pytest.mark.parametrize(("who", "status"), WHO)
async def test_who_may_see_a_payout_account(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, stripe_client: Any,
    who: str, status: int,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-account"
    assert (await api.post(url, headers=token(provider))).status_code == 201
    callers = {"none": None, "client": await f.make_client_actor(db),
               "other": await f.make_provider_actor(db), "own": provider,
               "ops": await f.make_ops(db)}  # fmt: skip
    caller = callers[who]
    headers = token(caller) if caller else {}
    assert (await api.get(url, headers=headers)).status_code == status
    made = await api.post(url, headers=headers)
    assert made.status_code == status
    unknown = f"/providers/{uuid.uuid4()}/payout-account"
    if who in ("own", "ops"):
        assert (await api.get(unknown, headers=headers)).status_code == 404


async def test_account_updated_adopts_an_account_whose_answer_was_lost(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, settings: Settings,
    token: Any,
) -> None:  # fmt: skip
    provider, url, lost = await _create_losing_the_answer(db, api, stripe_admin, token)
    assert lost.status_code == 503
    (account,) = _ours(stripe_client, provider.provider_id)  # type: ignore[arg-type]
    secret = settings.stripe_webhook_secret
    # Stripe is down when the job re-reads the account: the event waits for a later run.
    down = {"kind": "error", "path_prefix": f"/v1/accounts/{account.id}", "method": "GET",
            "count": 1, "status": 503}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=down)).status_code == 200
    assert (await w.deliver(api, w.event("account.updated", account.id), secret)).status_code == 200
    assert await w.run_events(db, tx, gateway) == ["retry"]
    assert await w.run_events(db, tx, gateway) == ["account updated"]
    shown = (await api.get(url, headers=token(provider))).json()
    assert shown["stripe_account_id"] == account.id
    again = await api.post(url, headers=token(provider))
    assert (again.status_code, again.json()["stripe_account_id"]) == (200, account.id)
    assert len(_ours(stripe_client, provider.provider_id)) == 1  # type: ignore[arg-type]


async def test_reading_the_account_re_reads_it_from_stripe(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-account"
    account_id = (await api.post(url, headers=token(provider))).json()["stripe_account_id"]
    # Stripe disables payouts and its account.updated never arrives (no endpoint here).
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    ops = token(await f.make_ops(db))
    shown = (await api.get(url, headers=ops)).json()
    assert shown["payouts_enabled"] is False
    stored = await db.fetchrow("SELECT payouts_enabled, synced_at FROM payout_accounts")
    assert stored["payouts_enabled"] is False
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout_account' AND action = 'update'"
    )
    assert audited == 1
    # Enabled again at Stripe: the provider's own read heals it.
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": True})  # type: ignore[typeddict-unknown-key]
    assert (await api.get(url, headers=token(provider))).json()["payouts_enabled"] is True
    # Stripe down: the read answers what Stripe said last, at synced_at.
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    down = {"kind": "error", "path_prefix": f"/v1/accounts/{account_id}", "method": "GET",
            "count": 1, "status": 503}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=down)).status_code == 200
    stale = await api.get(url, headers=ops)
    assert (stale.status_code, stale.json()["payouts_enabled"]) == (200, True)
    assert (await api.get(url, headers=ops)).json()["payouts_enabled"] is False


async def test_a_read_adopts_an_account_whose_answer_was_lost(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    provider, url, lost = await _create_losing_the_answer(db, api, stripe_admin, token)
    assert lost.status_code == 503
    (account,) = _ours(stripe_client, provider.provider_id)  # type: ignore[arg-type]
    # No account.updated: the read finds the account by its metadata and keeps its id.
    shown = (await api.get(url, headers=token(provider))).json()
    assert (shown["stripe_account_id"], shown["payouts_enabled"]) == (account.id, True)


async def test_the_payout_run_re_reads_an_account_a_held_payout_waits_on(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [5_000])
    pid = provider.provider_id
    url = f"/providers/{pid}/payout-account"
    account_id = (await api.get(url, headers=token(provider))).json()["stripe_account_id"]
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    connect = ConnectGateway.of(gateway)
    assert await refresh_unpayable(tx, connect) == {}  # Hearth still thinks it payable
    assert (await api.get(url, headers=token(provider))).json()["payouts_enabled"] is False
    await r.fund(stripe_client, 100_000)
    assert (await r.run(db, provider_id=pid)).held == 1
    assert [(p["status"], p["hold_reason"]) for p in await r.payouts(db)] == [
        ("held", "no_payout_account")]  # fmt: skip
    # Onboarding finished at Stripe; its account.updated is lost. A run alone cannot know.
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": True})  # type: ignore[typeddict-unknown-key]
    assert (await r.run(db, provider_id=pid)).requeued == 0
    # The job's first step re-reads the accounts not payable yet; the run then sends it.
    assert await refresh_unpayable(tx, connect) == {"account updated": 1}
    assert (await r.run(db, provider_id=pid)).requeued == 1
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert [p["status"] for p in await r.payouts(db)] == ["paid"]
    # Payable now: no longer among those re-read.
    assert await refresh_unpayable(tx, connect) == {}
