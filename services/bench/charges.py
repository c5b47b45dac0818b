"""`bench charges`: the estimate charged at completion through the Stripe simulator, beside the
simulator's bare PaymentIntent create.

The world (infra gives a fresh database; migrated here, the demo world loaded as of AS_OF): the
Evergreen members' cards saved as production saves them (a SetupIntent from
`start_payment_setup`, confirmed at the simulator as Stripe.js would, its
setup_intent.succeeded event received and handled), and HEARTH_BENCH_CHARGES (2,000) confirmed
sessions with their claims and completion entries (era_post's `build_world`: a $20.00 estimate
each), whose charges are written as completion writes them (`add_completion_charge`: the
pending row, its charge_client outbox row, the audit row), all in one transaction: setting up
is not what is measured.

The load: the charge_client job's body (`charge_client`: claim the row in one transaction,
create and confirm the PaymentIntent off-session with nothing held, store its id, read the
charge's fee from its balance transaction, record the capture and its journal entry in a
second transaction) for each outbox row, at CONCURRENCY as one arq worker runs jobs (arq's
max_jobs, 10) over a pool of the worker's size (5). Each charge must succeed and the ledger
must balance after the run, or the bench fails.

The baseline (`payment_intent_create`) is the simulator's own cost for the one call a charge
cannot do without: the same number of PaymentIntents created and confirmed off-session through
the same SDK client, each with an idempotency key, at the same concurrency, with no database
and no fee read. Charges and baseline alternate in ROUNDS turns (a shared machine's load weighs
on both alike); `ratio` is charges_per_s over the baseline's.

Measured on the shared 2-core development machine (December 2026, the default 2,000 charges,
other helpers' work keeping the load average at 7.5-9.5): 78 and 45 charges/s (p99 278 and 390
ms) beside 244 and 150 PaymentIntents/s, a ratio of 0.32 and 0.30. A charge is two Stripe
round trips (the create, then the charge's balance transaction for its fee) and three short
transactions, so two calls alone would bound it near 0.5. Before the simulator kept a charge's
refunds in an index (localstripe scanned its whole store for them, several times per intent
answered) both sides slowed as the run went on: 15 creates/s by the end of 2,000.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.bench.era_post import ESTIMATE, build_world
from services.bench.served import database_world, percentile, stripe_simulator
from services.core import clock
from services.core.auth import Actor
from services.core.db import create_pool, transaction
from services.core.settings import Settings, load_settings
from services.core.transactions import Transactions
from services.dev.demo_data import OPS_EMAIL
from services.ledger.service import get_trial_balance
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from services.payments.service import add_completion_charge, start_payment_setup
from services.payments.webhooks import handle_stripe_event, receive

BASELINE = "payment_intent_create"
CONCURRENCY = 10  # arq's max_jobs: the jobs one worker runs at once
POOL_SIZE = 5  # the worker's pool (workers/settings.py)
ROUNDS = 4
WARM = 20  # charges and creates before the measured turns (connections, caches)
VISA = "4242424242424242"
Card = tuple[str, str]  # Stripe customer, payment method


@dataclass(frozen=True)
class Parts:
    tx: Transactions
    gateway: StripeGateway
    settings: Settings


async def _save_card(parts: Parts, ops: Actor, client_id: uuid.UUID) -> Card:
    """The client's card saved as production saves it; (Stripe customer, payment method)."""
    setup = await start_payment_setup(parts.tx, parts.gateway, ops, client_id)
    intent_id = setup.client_secret.split("_secret_")[0]
    sdk = parts.gateway.client.v1
    method = await sdk.payment_methods.create_async(
        params={"type": "card",
                "card": {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )  # fmt: skip
    confirmed = await sdk.setup_intents.confirm_async(
        intent_id, params={"payment_method": method.id}
    )
    body = json.dumps({
        "id": f"evt_bench_{uuid.uuid4().hex[:20]}", "object": "event",
        "type": "setup_intent.succeeded",
        "data": {"object": {"id": intent_id, "object": "setup_intent"}},
    }).encode()  # fmt: skip
    secret = parts.settings.stripe_webhook_secret
    stamp = int(clock.now().timestamp())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    async with parts.tx() as conn:
        await receive(conn, body, f"t={stamp},v1={mac}", secret)
        outbox_id = await conn.fetchval(
            "SELECT max(id) FROM outbox WHERE job = 'handle_stripe_event' AND completed_at IS NULL"
        )
    if await handle_stripe_event(parts.tx, parts.gateway, outbox_id) != "card saved":
        raise SystemExit(f"the card of client {client_id} was not saved")
    return str(confirmed.customer), str(method.id)


async def _world(parts: Parts, pool: asyncpg.Pool, count: int) -> tuple[list[int], list[Card]]:
    """The charges' outbox rows (pending charges, as completion writes them) and the cards."""
    async with transaction(pool) as conn:
        ops = Actor(user_id=await conn.fetchval("SELECT id FROM users WHERE email = $1",
                                                OPS_EMAIL), role="ops")  # fmt: skip
        world = await build_world(conn, count)
    clients = list(dict.fromkeys(b.policy["client_id"] for b in world))
    cards = [await _save_card(parts, ops, client_id) for client_id in clients]
    async with transaction(pool) as conn:
        for billed in world:
            await add_completion_charge(
                conn, billed.policy["client_id"], billed.session_id, ESTIMATE
            )
        rows = await conn.fetch(
            "SELECT id FROM outbox WHERE job = 'charge_client' AND completed_at IS NULL ORDER BY id"
        )
    return [r["id"] for r in rows], cards


async def _at_concurrency(
    items: list[int], call: Callable[[int], Awaitable[None]], latencies: list[float]
) -> float:
    """Every item through `call`, CONCURRENCY at a time; the seconds it took."""
    queue = deque(items)

    async def worker() -> None:
        while queue:
            item = queue.popleft()
            began = time.perf_counter()
            await call(item)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - began


@dataclass
class Measured:
    charges: list[float]
    creates: list[float]
    charges_s: float = 0.0
    creates_s: float = 0.0


async def _measure(parts: Parts, pool: asyncpg.Pool, count: int) -> Measured:
    outbox_ids, cards = await _world(parts, pool, count + WARM)
    run = uuid.uuid4().hex[:8]

    async def charge(outbox_id: int) -> None:
        if (outcome := await charge_client(parts.tx, parts.gateway, outbox_id)) != "succeeded":
            raise SystemExit(f"charge_client {outbox_id}: {outcome}")

    async def create(n: int) -> None:
        customer, method = cards[n % len(cards)]
        intent = await parts.gateway.client.v1.payment_intents.create_async(
            params={"amount": ESTIMATE, "currency": "usd", "customer": customer,
                    "payment_method": method, "off_session": True, "confirm": True,
                    "metadata": {"bench": run}},
            options={"idempotency_key": f"bench-{run}-{n}"},
        )  # fmt: skip
        if intent.status != "succeeded":
            raise SystemExit(f"the baseline's intent {intent.id} is {intent.status}")

    await _at_concurrency(outbox_ids[:WARM], charge, [])
    await _at_concurrency(list(range(count, count + WARM)), create, [])
    measured, rest = Measured(charges=[], creates=[]), outbox_ids[WARM:]
    step = -(-count // ROUNDS)
    for first in range(0, count, step):
        measured.charges_s += await _at_concurrency(
            rest[first : first + step], charge, measured.charges
        )
        turn = list(range(first, min(first + step, count)))
        measured.creates_s += await _at_concurrency(turn, create, measured.creates)
    async with transaction(pool) as conn:
        if (await get_trial_balance(conn)).imbalance_cents != 0:
            raise SystemExit("the ledger does not balance after the charges")
    return measured


async def _run(env: dict[str, str], count: int) -> Measured:
    settings = load_settings(env)
    gateway = StripeGateway.from_settings(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=POOL_SIZE)
    try:
        parts = Parts(Transactions(lambda: pool.acquire()), gateway, settings)
        return await _measure(parts, pool, count)
    finally:
        await pool.close()
        await gateway.aclose()


def main() -> None:
    count = int(os.environ.get("HEARTH_BENCH_CHARGES", "2000"))
    env = database_world("charges")
    with tempfile.TemporaryDirectory() as tmp, stripe_simulator(env, Path(tmp)) as url:
        measured = asyncio.run(_run({**env, "HEARTH_STRIPE_API_BASE": url}, count))
    per_s = len(measured.charges) / measured.charges_s
    baseline_per_s = len(measured.creates) / measured.creates_s
    print(
        f"bench charges charges_per_s={per_s:.0f}"
        f" p99_ms={percentile(measured.charges, 0.99) * 1000:.1f} charges={len(measured.charges)}"
        f" concurrency={CONCURRENCY} baseline={BASELINE} baseline_per_s={baseline_per_s:.0f}"
        f" ratio={per_s / baseline_per_s:.3f}"
    )
    print(
        f"bench charges_baseline name={BASELINE} per_s={baseline_per_s:.0f}"
        f" p99_ms={percentile(measured.creates, 0.99) * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
