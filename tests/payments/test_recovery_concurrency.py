"""A soft decline's retry job run twice at once, on their own connections (committed data):
one confirms the intent, the other finds the retry leased; a third run finds it done. One
attempt, one capture."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
import stripe

from services.core import clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments import recovery
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from tests.payments import recovery_world as r
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def test_two_concurrent_retries_confirm_once(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    try:
        tx = Transactions(lambda: pool.acquire())
        visit, outbox_id = await w.committed_charge(pool, gateway, stripe_client, settings, 12345)
        response = await stripe_admin.post("/_admin/faults", json=r.decline("insufficient_funds"))
        assert response.status_code == 200
        assert await charge_client(tx, gateway, outbox_id) == "failed"
        async with transaction(pool) as conn:
            (follow_up,) = await r.due(conn, "follow_up_charge")
            assert await recovery.follow_up_charge(conn, settings, follow_up) == "soft decline"
        clock.CLOCK.advance(timedelta(days=1))
        async with transaction(pool) as conn:
            (retry,) = await r.due(conn, "retry_charge")
        outcomes = await asyncio.gather(
            recovery.retry_charge(tx, gateway, settings, retry),
            recovery.retry_charge(tx, gateway, settings, retry),
        )
        # The other run finds the lease held, or, started late, the work done.
        assert sorted(outcomes) in (["leased", "succeeded"], ["done before", "succeeded"])
        assert await recovery.retry_charge(tx, gateway, settings, retry) == "done before"
        async with transaction(pool) as conn:
            (charge,) = await w.charges_of(conn, visit.session.id)
            assert charge["status"] == "succeeded"
            assert await w.captured_entries(conn, charge["id"]) == 1
            assert await r.attempts(conn, charge["id"]) == [(0, "declined"), (1, "succeeded")]
            customer = await conn.fetchval("SELECT stripe_customer_id FROM stripe_customers")
        intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
        assert [(pi.id, pi.status) for pi in intents] == [
            (charge["payment_intent_id"], "succeeded")
        ]
    finally:
        await pool.close()
