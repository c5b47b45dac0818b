"""The payments tests' world: the Stripe simulator, Hearth's gateway pointed at it (also the
API's), and the test's transaction opened as short transactions (savepoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core.settings import Settings
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests.payments.world import Charging
from tests.stripesim import API_KEY, stripe_admin, stripe_client, stripe_sim  # noqa: F401


@pytest.fixture
async def gateway(stripe_sim: str, stripe_admin: httpx.AsyncClient) -> AsyncIterator[StripeGateway]:  # noqa: F811
    http = stripe.HTTPXClient(timeout=5)
    sdk = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_sim},
                              max_network_retries=0, http_client=http)  # fmt: skip
    found = StripeGateway(sdk, http)
    yield found
    await found.aclose()


@pytest.fixture
async def api(
    client: httpx.AsyncClient, gateway: StripeGateway
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the test's transaction, its Stripe gateway the simulator's."""
    state = client._transport.app.state  # type: ignore[attr-defined]
    kept = state.stripe
    state.stripe = gateway
    yield client
    state.stripe = kept


@pytest.fixture
def tx(db: asyncpg.Connection) -> Transactions:
    return Transactions.within(db)


@pytest.fixture
def charging(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient,  # noqa: F811
    settings: Settings, token: Any,
) -> Charging:  # fmt: skip
    return Charging(db, api, tx, gateway, stripe_client, stripe_admin, settings, token)
