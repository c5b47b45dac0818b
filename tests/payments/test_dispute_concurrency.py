"""Three events of one new dispute handled at once, on their own connections (committed
data): one dispute row, its entry booked once, the ledger balanced."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger import service as ledger
from services.payments import service
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from services.payments.webhooks import handle_stripe_event, receive
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

KINDS = ("charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed")


async def test_concurrent_events_of_one_dispute_book_once(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=3, max_size=6)
    try:
        tx = Transactions(lambda: pool.acquire())
        visit = await w.committed_setup(pool, gateway, stripe_client, settings)
        assert visit.client.client_id is not None
        async with transaction(pool) as conn:
            await service.add_completion_charge(conn, visit.client.client_id, visit.session.id,
                                                12345)  # fmt: skip
        async with transaction(pool) as conn:
            assert await w.run_events(conn, Transactions.within(conn), gateway) == ["card saved"]
            (outbox_id,) = await w.open_outbox(conn, "charge_client")
        assert await charge_client(tx, gateway, outbox_id) == "succeeded"
        async with transaction(pool) as conn:
            stripe_charge = await conn.fetchval("SELECT stripe_charge_id FROM client_charges")
        opened = await stripe_admin.post("/_admin/disputes", json={"charge": stripe_charge})
        dispute_id = opened.json()["id"]
        closed = await stripe_admin.post(f"/_admin/disputes/{dispute_id}/close",
                                         json={"status": "lost"})  # fmt: skip
        assert closed.status_code == 200, closed.text
        secret = settings.stripe_webhook_secret
        async with transaction(pool) as conn:
            for kind in KINDS:
                body = w.event(kind, dispute_id)
                await receive(conn, body, w.signed(body, secret)["Stripe-Signature"], secret)
            outbox_ids = await w.open_outbox(conn, "handle_stripe_event")
        assert len(outbox_ids) == len(KINDS)
        outcomes = await asyncio.gather(*(handle_stripe_event(tx, gateway, n) for n in outbox_ids))
        assert outcomes == ["dispute lost"] * len(KINDS)
        async with transaction(pool) as conn:
            assert await conn.fetchval("SELECT count(*) FROM client_disputes") == 1
            opened_entries = await conn.fetchval(
                "SELECT count(*) FROM journal_entries WHERE kind = 'dispute_opened'"
            )
            assert opened_entries == 1
            assert (await ledger.get_trial_balance(conn)).imbalance_cents == 0
    finally:
        await pool.close()
