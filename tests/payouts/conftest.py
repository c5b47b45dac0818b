"""The payouts tests' world: the Stripe simulator and the payments tests' fixtures (the
gateway, the API pointed at it, the test's transaction as short transactions)."""

from __future__ import annotations

from tests.payments.conftest import api, gateway, tx  # noqa: F401
from tests.stripesim import stripe_admin, stripe_client, stripe_sim  # noqa: F401
