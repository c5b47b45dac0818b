"""The superbill tests' world: the payments tests' (Stripe simulator, charging helpers)."""

from __future__ import annotations

from tests.payments.conftest import api, charging, gateway, tx  # noqa: F401
from tests.stripesim import stripe_admin, stripe_client, stripe_sim  # noqa: F401
