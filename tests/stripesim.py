"""The Stripe simulator (infra/stripe) as a real process on a free port, once per xdist worker.

`stripe_sim` is its base URL (session); `stripe_admin` resets it before and after a test and
drives its `/_admin` switches; `stripe_client` is the official SDK pointed at it with only the
base address changed. Later tests import these fixtures as they import the clearinghouse's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stripe

from tests.live import ROOT, process, wait_answering, wait_first_line

API_KEY = "sk_test_hearth_simulator"
WEBHOOK_SECRET = "whsec_test_simulator_0123456789"
CONNECT_WEBHOOK_SECRET = "whsec_test_simulator_connect_0123456789"


@pytest.fixture(scope="session")
def stripe_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of `python -m infra.stripe --port 0`."""
    log = tmp_path_factory.mktemp("stripe") / "stripe.log"
    args = [sys.executable, "-m", "infra.stripe", "--host", "127.0.0.1", "--port", "0"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    # A run shifted to another day signs webhooks with the shifted clock, as Hearth checks them.
    for name in ("HEARTH_CLOCK_SHIFT_TO", "HEARTH_CLOCK_SHIFT_FROM"):
        if name in os.environ:
            env[name] = os.environ[name]
    with process(args, env, log) as proc:
        base = wait_first_line(log, proc, r"^listening on (http://127\.0\.0\.1:\d+)$").group(1)
        wait_answering(f"{base}/_admin/health", log)
        yield base


@pytest.fixture
async def stripe_admin(stripe_sim: str) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's `/_admin` routes, on an empty simulator (reset before and after)."""
    async with httpx.AsyncClient(base_url=stripe_sim, timeout=30) as client:
        assert (await client.post("/_admin/reset")).status_code == 200
        yield client
        await client.post("/_admin/reset")


@pytest.fixture
def stripe_client(stripe_sim: str, stripe_admin: httpx.AsyncClient) -> stripe.StripeClient:
    """The official SDK against the simulator; no automatic retries (tests retry on purpose)."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": stripe_sim},
                               max_network_retries=0)  # fmt: skip
