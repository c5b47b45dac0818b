"""Two runs of one charge's job at once, on their own connections (committed data): one calls
Stripe, the other finds the lease held; Stripe holds one intent."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def test_two_concurrent_runs_charge_once(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    try:
        tx = Transactions(lambda: pool.acquire())
        visit, outbox_id = await w.committed_charge(pool, gateway, stripe_client, settings, 12345)
        outcomes = await asyncio.gather(
            charge_client(tx, gateway, outbox_id), charge_client(tx, gateway, outbox_id)
        )
        # The other run finds the lease held, or, started late, the work done.
        assert sorted(outcomes) in (["leased", "succeeded"], ["done before", "succeeded"])
        async with transaction(pool) as conn:
            (charge,) = await w.charges_of(conn, visit.session.id)
            assert charge["status"] == "succeeded"
            assert await w.captured_entries(conn, charge["id"]) == 1
            customer = await conn.fetchval("SELECT stripe_customer_id FROM stripe_customers")
        intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
        assert [pi.id for pi in intents] == [charge["payment_intent_id"]]
    finally:
        await pool.close()
