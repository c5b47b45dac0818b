"""The transfer_payouts job (a freeze batch's payouts sent together): a worker that dies
between the batch's Stripe calls and its record leaves each payout to be looked up, not paid
again (also once Stripe forgot the keys); a balance that covers only part of the batch pays
those that fit in full and holds the rest, never half-paying one; calls a slow Stripe kept
from starting in time are left to each payout's own job."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core.auth import Actor
from services.core.clock import Clock
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from services.payouts import transfer_batches
from services.payouts.connect import ConnectGateway
from services.payouts.transfer_batches import transfer_payouts
from services.payouts.transfers import LEASE
from tests import factories as f
from tests.payments.world import open_outbox
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


class Killed(Exception):
    """The worker died (SIGKILL) where this is raised: nothing after it ran."""


class DiesBeforeRecord(Transactions):
    """The job's transactions, the worker dying as it opens its second (the record): after
    every Stripe call of the batch was made and answered."""

    def __init__(self, inner: Transactions) -> None:
        self.inner = inner
        self.opened = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncGenerator[asyncpg.Connection, None]:
        self.opened += 1
        if self.opened == 2:
            raise Killed
        async with self.inner() as conn:
            yield conn


async def _due(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, cents: list[int]
) -> list[Actor]:
    """Providers owed `cents`, each due today."""
    ops = token(await f.make_ops(db))
    providers = [await r.provider_owed(db, api, token, [c]) for c in cents]
    for provider in providers:
        await r.schedule_today(api, ops, provider)
    return providers


@pytest.mark.parametrize("forgotten", [False, True])
async def test_a_worker_killed_between_the_calls_and_the_record_pays_each_once(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
    clock: Clock, forgotten: bool,
) -> None:  # fmt: skip
    providers = await _due(db, api, token, [11_000, 12_000, 13_000])
    await r.fund(stripe_client, 1_000_000)
    await r.run(db)  # the three in one freeze batch
    (batch,) = await open_outbox(db, "transfer_payouts")
    connect = ConnectGateway.of(gateway)
    with pytest.raises(Killed):
        await transfer_payouts(DiesBeforeRecord(tx), connect, batch)
    rows = await r.payouts(db)
    assert [(p["status"], p["stripe_transfer_id"]) for p in rows] == [("submitting", None)] * 3
    for provider in providers:  # Stripe made each transfer; Hearth recorded none
        assert len(r.transfers_to(stripe_client, await r.destination(db, provider.provider_id)))
    # Handed out again at once: the dead worker's lease still stands.
    assert await transfer_payouts(tx, connect, batch) == "leased"
    clock.advance(LEASE + timedelta(seconds=1))
    if forgotten:  # a day later Stripe forgot the keys: only the lookup stops a second transfer
        await stripe_admin.post("/_admin/clock", json={"advance_s": 90_000})
    assert await transfer_payouts(tx, connect, batch) == "paid 3"
    assert await open_outbox(db, "transfer_payouts") == []
    for provider, cents in zip(providers, (11_000, 12_000, 13_000), strict=True):
        made = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
        assert [t.amount for t in made] == [cents]
        row = next(p for p in await r.payouts(db) if p["provider_id"] == provider.provider_id)
        assert (row["status"], row["stripe_transfer_id"], row["attempt"]) == (
            "paid", made[0].id, 1)  # fmt: skip
    assert await r.entries(db, "payout_transferred") == 3
    assert await r.balance(db, "payouts_in_transit") == 0
    await r.assert_balanced(db)


async def test_a_balance_short_for_the_batch_pays_those_that_fit_and_holds_the_rest(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    providers = await _due(db, api, token, [20_000] * 3)
    await r.fund(stripe_client, 45_000)  # two of the three, whichever comes first
    await r.run(db)
    assert sorted(await r.run_transfers(db, tx, gateway)) == [
        "held insufficient_platform_balance", "paid", "paid"]  # fmt: skip
    made = [
        t
        for p in providers
        for t in r.transfers_to(stripe_client, await r.destination(db, p.provider_id))
    ]
    assert [t.amount for t in made] == [20_000, 20_000]  # fmt: skip
    assert await r.balance(db, "payouts_in_transit") == 20_000
    await r.assert_balanced(db)
    # Funds added outside Hearth: the next run sends the held payout again, in full.
    await r.fund(stripe_client, 20_000)
    await r.run(db)
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    assert await r.balance(db, "payouts_in_transit") == 0
    await r.assert_balanced(db)


async def test_calls_not_started_within_the_budget_are_left_to_each_payouts_own_job(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    providers = await _due(db, api, token, [5_000, 6_000])
    await r.fund(stripe_client, 100_000)
    await r.run(db)
    monkeypatch.setattr(transfer_batches, "CALL_BUDGET", timedelta(0))  # Stripe too slow
    assert await r.run_transfers(db, tx, gateway) == ["unknown", "unknown"]
    for provider in providers:  # nothing was called
        assert r.transfers_to(stripe_client, await r.destination(db, provider.provider_id)) == []
    assert await open_outbox(db, "transfer_payouts") == []
    assert await r.run_transfers(db, tx, gateway) == ["paid", "paid"]
    for provider in providers:
        made = r.transfers_to(stripe_client, await r.destination(db, provider.provider_id))
        assert len(made) == 1
    assert await r.balance(db, "payouts_in_transit") == 0
    await r.assert_balanced(db)
