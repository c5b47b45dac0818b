"""A true-up's charge and a credit's refund after an injected timeout, then two runs of the job
at once on their own connections (committed data): one calls Stripe (or looks the object up),
the other finds the lease held; Stripe holds one intent and one refund."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
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
from services.payments.true_ups import refund_client, settle_true_up_on
from services.payments.webhooks import receive
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.payments import world as w
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import Billed, bill

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


@pytest.fixture
async def pool(committed_db: str) -> AsyncIterator[asyncpg.Pool]:
    found = await create_pool(committed_db, min_size=2, max_size=4)
    yield found
    await found.close()


# What the payer's 835 says of the claim: (its CLP, the fixture's claim number, the BPR).
OWES_MORE = (f.PARTLY_PAID, "2", {"paid": "30"})  # the client owes $70.00 more
DENIED = (f.DENIED, "6", {"bpr": "BPR*H*0*C*NON************20261204~\n"})  # owed $20.00 back


async def _billed_with_card(
    pool: asyncpg.Pool, gateway: StripeGateway, sdk: stripe.StripeClient, settings: Settings,
    remit: tuple[str, str, dict[str, str]],
) -> Billed:  # fmt: skip
    """Committed: a billed claim, its client's card saved, the completion charge captured, the
    835 posted and its true-up settled (its charge or refund queued)."""
    async with transaction(pool) as conn:
        billed = await bill(conn, (await make_payer(conn)).id, await make_provider_actor(conn))
        ops = await make_ops(conn)
    tx = Transactions(lambda: pool.acquire())
    setup = await service.start_payment_setup(tx, gateway, ops, billed.client_id)
    body = w.event("setup_intent.succeeded", w.confirm_card(sdk, setup.client_secret))
    secret = settings.stripe_webhook_secret
    async with transaction(pool) as conn:
        await receive(conn, body, w.signed(body, secret)["Stripe-Signature"], secret)
    async with transaction(pool) as conn:
        assert await w.run_events(conn, Transactions.within(conn), gateway) == ["card saved"]
        session_id = await conn.fetchval(
            "SELECT therapy_session_id FROM claims WHERE id = $1", billed.claim_id
        )
        await service.add_completion_charge(conn, billed.client_id, session_id, billed.estimate)
    async with transaction(pool) as conn:
        assert await w.run_charges(conn, Transactions.within(conn), gateway) == ["succeeded"]
        clp, number, bpr = remit
        await t.post(conn, ops, f.transaction(t.ours(clp, billed, number), **bpr))
        settled = [await settle_true_up_on(conn, row["id"]) for row in await t.settle_rows(conn)]
        assert settled in (["charging"], ["refunding"])
    return billed


async def _lost_then_twice(
    admin: httpx.AsyncClient, fault: dict[str, Any], run: Callable[[], Awaitable[str]]
) -> list[str]:
    """The job's first run loses Stripe's answer (`fault`), then two runs at once: their
    outcomes, sorted."""
    assert (await admin.post("/_admin/faults", json=fault)).status_code == 200
    assert await run() == "unknown"
    return sorted(await asyncio.gather(run(), run()))


async def _status(pool: asyncpg.Pool, billed: Billed) -> dict[str, Any]:
    async with transaction(pool) as conn:
        (row,) = await t.true_ups(conn, billed)
        assert (await ledger.get_trial_balance(conn)).imbalance_cents == 0
        return row


async def test_a_true_up_charge_run_twice_at_once_after_a_timeout_charges_once(
    pool: asyncpg.Pool, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    billed = await _billed_with_card(pool, gateway, stripe_client, settings, OWES_MORE)
    tx = Transactions(lambda: pool.acquire())
    async with transaction(pool) as conn:
        (outbox_id,) = await w.open_outbox(conn, "charge_client")
    outcomes = await _lost_then_twice(stripe_admin, w.LOSE_THE_ANSWER,
                                      lambda: charge_client(tx, gateway, outbox_id))  # fmt: skip
    # The other run found the lease held, or (when it started after the first began
    # recording, and queued on the outbox row) the work done.
    assert outcomes[0] in ("done before", "leased")
    assert outcomes[1] == "succeeded"
    true_up = await _status(pool, billed)
    assert true_up["status"] == "charged"
    async with transaction(pool) as conn:
        (charge,) = await w.charges_of(conn, true_up["id"])
        assert await w.captured_entries(conn, charge["id"]) == 1
        customer = await conn.fetchval(
            "SELECT stripe_customer_id FROM stripe_customers WHERE client_id = $1",
            billed.client_id,
        )
    intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
    assert sorted(pi.amount for pi in intents) == [billed.estimate, 7000]
    assert charge["payment_intent_id"] in [pi.id for pi in intents]


async def test_a_refund_run_twice_at_once_after_a_timeout_refunds_once(
    pool: asyncpg.Pool, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, settings: Settings,
) -> None:  # fmt: skip
    billed = await _billed_with_card(pool, gateway, stripe_client, settings, DENIED)
    tx = Transactions(lambda: pool.acquire())
    async with transaction(pool) as conn:
        (outbox_id,) = await w.open_outbox(conn, "refund_client")
        intent = await conn.fetchval(
            "SELECT payment_intent_id FROM client_charges WHERE client_id = $1", billed.client_id
        )
    fault = {"kind": "timeout", "path_prefix": "/v1/refunds", "method": "POST", "count": 1,
             "delay_s": 0.5, "after": True}  # fmt: skip
    outcomes = await _lost_then_twice(stripe_admin, fault,
                                      lambda: refund_client(tx, gateway, outbox_id))  # fmt: skip
    assert outcomes[0] in ("done before", "leased")
    assert outcomes[1] == "refunded"
    assert (await _status(pool, billed))["status"] == "refunded"
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": intent}).data
    assert [r.amount for r in refunds] == [billed.estimate]
