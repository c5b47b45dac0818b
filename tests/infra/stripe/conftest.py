"""The simulator's fixtures for the tests here (elsewhere: import them from tests.stripesim)."""

from tests.stripesim import stripe_admin, stripe_client, stripe_sim  # noqa: F401 - fixtures
