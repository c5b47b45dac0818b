"""The real arq worker against the Stripe simulator: the outbox relays a stored
setup_intent.succeeded (the card saved) and then a charge (captured once, its entry posted);
both jobs are registered in workers/settings.py."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
import stripe

from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.payments import service
from services.payments.gateway import StripeGateway
from tests.live import app_env, process
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments import world as w
from tests.stripesim import API_KEY

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def _wait_for(pool: asyncpg.Pool, sql: str, *args: object, log: Path) -> object:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        found = await pool.fetchval(sql, *args)
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(_tail(log))


async def test_the_worker_saves_the_card_then_charges_once(
    committed_db: str, settings: Settings, redis_namespace: str, tmp_path: Path,
    stripe_sim: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=1, max_size=3)
    try:
        visit = await w.committed_setup(pool, gateway, stripe_client, settings)
        assert visit.client.client_id is not None
        secret = settings.stripe_webhook_secret
        env = app_env(
            committed_db, settings.redis_url,
            HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-pay-{uuid.uuid4().hex[:6]}",
            HEARTH_STRIPE_API_BASE=stripe_sim, HEARTH_STRIPE_API_KEY=API_KEY,
            HEARTH_STRIPE_WEBHOOK_SECRET=secret,
            # The self-pay booking's Good Faith Estimate email is one of the outbox's jobs too.
            HEARTH_SMTP_HOST="127.0.0.1", HEARTH_SMTP_PORT=str(mail_sink.smtp_port),
        )  # fmt: skip
        log = tmp_path / "worker.log"
        with process([sys.executable, "-m", "arq", "workers.settings.WorkerSettings"], env, log):
            await _wait_for(pool, "SELECT id FROM payment_methods WHERE is_default", log=log)
            async with transaction(pool) as conn:
                await service.add_completion_charge(
                    conn, visit.client.client_id, visit.session.id, 12_345
                )
            sql = "SELECT payment_intent_id FROM client_charges WHERE status = 'succeeded'"
            intent_id = await _wait_for(pool, sql, log=log)
            await _wait_for(pool, "SELECT bool_and(completed_at IS NOT NULL) FROM outbox", log=log)
        customer = await pool.fetchval("SELECT stripe_customer_id FROM stripe_customers")
        intents = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
        assert [(pi.id, pi.amount) for pi in intents] == [(intent_id, 12_345)]
        entries = await pool.fetchval(
            "SELECT count(*) FROM journal_entries WHERE kind = 'card_captured'"
        )
        assert entries == 1
        jobs = await pool.fetch("SELECT job, completed_at, failed_at FROM outbox ORDER BY id")
        assert all(j["completed_at"] is not None and j["failed_at"] is None for j in jobs), jobs
    finally:
        await pool.close()
