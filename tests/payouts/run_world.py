"""Helpers of the payout-run tests: providers owed money with a Connect account, the run and
the transfer jobs run by hand, and what the ledger and Stripe hold afterwards."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import stripe

from services.core import clock
from services.core.auth import Actor
from services.core.db import transaction
from services.core.transactions import Transactions
from services.ledger.service import get_trial_balance
from services.payments.gateway import StripeGateway
from services.payouts.accounts import create_payout_account
from services.payouts.connect import ConnectGateway
from services.payouts.runs import RunRules, RunTally, run_payouts
from services.payouts.schedules import cutoff_of
from services.payouts.transfer_batches import transfer_payouts
from services.payouts.transfers import transfer_payout
from tests import factories as f
from tests.payments.world import open_outbox
from tests.payouts import world as w

RULES = RunRules(edit_window_hours=48, minimum_cents=100)


def settled_at(run_date: date | None = None) -> Any:
    """An instant whose sessions are past the edit window at `run_date`'s cutoff."""
    return cutoff_of(run_date or clock.today()) - timedelta(hours=72)


async def provider_owed(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, cents: list[int],
    account: bool = True,
) -> Actor:  # fmt: skip
    """A provider with a Connect account (payouts enabled) and one completed session per
    amount, each past its edit window today."""
    provider = await f.make_provider_actor(db)
    assert provider.provider_id is not None
    if account:
        made = await api.post(f"/providers/{provider.provider_id}/payout-account",
                              headers=token(provider))  # fmt: skip
        assert made.status_code == 201, made.text
    for amount in cents:
        await w.session_entry(db, provider.provider_id, uuid.uuid4(), amount, settled_at())
    return provider


async def fund(sdk: stripe.StripeClient, cents: int) -> None:
    """Money in the platform's Stripe balance (as a top-up made outside Hearth would)."""
    sdk.v1.topups.create(params={"amount": cents, "currency": "usd"})


async def run(db: asyncpg.Connection, day: date | None = None,
              provider_id: uuid.UUID | None = None) -> RunTally:  # fmt: skip
    return await run_payouts(Transactions.within(db), RULES, day or clock.today(), provider_id)


def each(outcome: str) -> list[str]:
    """A transfer_payouts job's counted outcomes ("held x 1, paid 2"), one per payout."""
    found: list[str] = []
    for part in outcome.split(", "):
        name, _, count = part.rpartition(" ")
        found += [name] * int(count) if count.isdigit() else [part]
    return found


async def run_transfers(
    db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway
) -> list[str]:
    """The open transfer jobs run once each: the batches (the run's), then single payouts'
    (retries, re-runs); an outcome per payout."""
    connect = ConnectGateway.of(gateway)
    batches = await open_outbox(db, "transfer_payouts")
    singles = await open_outbox(db, "transfer_payout")
    found = [out for n in batches for out in each(await transfer_payouts(tx, connect, n))]
    return found + [await transfer_payout(tx, connect, n) for n in singles]


async def payouts(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, provider_id, amount_cents, status, hold_reason, attempt, errors, "
        "stripe_transfer_id, failure_code FROM payouts ORDER BY created_at, id"
    )


async def balance(db: asyncpg.Connection, kind: str, owner: uuid.UUID | None = None) -> int:
    """The account's credits less debits."""
    found = await db.fetchval(
        """
        SELECT coalesce(sum(CASE WHEN l.side = 'credit' THEN l.amount_cents
                                 ELSE -l.amount_cents END), 0)
        FROM ledger_accounts a JOIN journal_lines l ON l.account_id = a.id
        WHERE a.kind = $1 AND a.owner_id IS NOT DISTINCT FROM $2
        """,
        kind, owner,
    )  # fmt: skip
    return int(found)


async def entries(db: asyncpg.Connection, kind: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM journal_entries WHERE kind = $1", kind))


async def assert_balanced(db: asyncpg.Connection) -> None:
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def assert_paid_once(
    db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway, sdk: stripe.StripeClient,
    destination: str, cents: int,
) -> None:  # fmt: skip
    """The open transfer jobs pay the test's one payout: one transfer of `cents` to
    `destination`, booked once, the ledger balanced."""
    assert await run_transfers(db, tx, gateway) == ["paid"]
    (transfer,) = transfers_to(sdk, destination)
    assert transfer.amount == cents
    assert await entries(db, "payout_transferred") == 1
    await assert_balanced(db)


def transfers_to(sdk: stripe.StripeClient, destination: str) -> list[Any]:
    return list(sdk.v1.transfers.list(params={"destination": destination, "limit": 100}).data)


async def destination(db: asyncpg.Connection, provider_id: uuid.UUID | None) -> str:
    found = await db.fetchval(
        "SELECT stripe_account_id FROM payout_accounts WHERE provider_id = $1", provider_id
    )
    assert found is not None
    return str(found)


async def schedule_today(api: httpx.AsyncClient, ops: dict[str, str], provider: Actor,
                         due: bool = True) -> None:  # fmt: skip
    """Weekly on today's weekday (due today), or on tomorrow's (not due)."""
    weekday = (clock.today() + timedelta(days=0 if due else 1)).isoweekday()
    body = {"kind": "weekly", "anchor_weekday": weekday}
    put = await api.put(f"/providers/{provider.provider_id}/payout-schedule", json=body,
                        headers=ops)  # fmt: skip
    assert put.status_code == 200, put.text


async def transfer_fault(admin: httpx.AsyncClient, **rule: Any) -> None:
    """A fault on the transfers' POST (kind, count, delay_s, status, after...)."""
    full = {"path_prefix": "/v1/transfers", "method": "POST", **rule}
    assert (await admin.post("/_admin/faults", json=full)).status_code == 200


def transfers_capability(sdk: stripe.StripeClient, account: str, requested: bool) -> None:
    """The Connect account's `transfers` capability requested again, or unrequested (Stripe
    then refuses transfers to it: insufficient_capabilities_for_transfer)."""
    wanted = {"capabilities": {"transfers": {"requested": requested}}}
    sdk.v1.accounts.update(account, params=wanted)  # type: ignore[arg-type]


async def committed_provider_owed(
    pool: asyncpg.Pool, tx: Transactions, connect: ConnectGateway, cents: int
) -> uuid.UUID:
    """A provider with a Connect account and a session of `cents` past its edit window today,
    each committed (the kill and race tests' own databases): their id."""
    async with transaction(pool) as conn:
        ops = await f.make_ops(conn)
        provider = await f.make_provider_actor(conn)
    pid = provider.provider_id
    assert pid is not None
    await create_payout_account(tx, connect, ops, pid, "https://app.hearth.test")
    async with transaction(pool) as conn:
        await w.session_entry(conn, pid, uuid.uuid4(), cents, settled_at())
    return pid
