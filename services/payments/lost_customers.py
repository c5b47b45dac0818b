"""A Stripe customer Stripe no longer knows (HTTP 400 resource_missing on `customer`: a test
mode reset, a customer deleted at the dashboard, a database restored over another account).

Hearth forgets it with its cards, so nothing keeps sending an id Stripe refuses: the charge
that met it fails with Stripe's code (resource_missing: a hard decline, the client told to pay
on-session, where an intent needs no customer), and the client's next card setup creates a new
customer under customer-{client}-a{n+1}; a setup that meets it itself forgets it and goes on
with a new one (service.py), so a dev stack restarted over its database heals itself. Logged
as an error: one such answer may mean the whole account changed, which ops must see.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg

from services.core import audit, clock
from services.core.auth import SYSTEM
from services.payments.gateway import StripeFailed
from services.payments.queries import customers as cq

log = logging.getLogger(__name__)


def customer_lost(exc: StripeFailed) -> bool:
    """Stripe does not know the customer Hearth stored (a test-mode reset, a deleted one)."""
    return exc.code == "resource_missing" and exc.param == "customer"


async def forget_customer(conn: asyncpg.Connection, client_id: uuid.UUID, customer: str) -> None:
    """A customer Stripe no longer knows forgotten with its cards: the client pays on-session
    with a card typed in, or saves a card again (a new customer, customer-{client}-a{n+1})."""
    if await cq.update_customer_lost(conn, client_id, customer, clock.now()):
        log.error("stripe customer lost", extra={"count": 1, "outcome": "resource_missing"})
        await audit.record(conn, SYSTEM, "update", "payment_method", [client_id])
