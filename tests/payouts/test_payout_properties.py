"""Issue 18's property: random sequences of events (completions in and out of network,
captures, 835 postings, denials recouped or absorbed, reversals with their corrections, days
passing, payout runs, transfers, transfer reversals, a provider's account refusing transfers
and receiving again, ops cancelling a failed payout), each through the real domain code against
PostgreSQL and the Stripe simulator. After every event:

- the trial balance is zero (debits = credits), PostgreSQL's deferred balance checks included;
- no provider is ever paid more than the ledger says they are owed: at each payout frozen, the
  provider's provider_payable (every entry posted up to it, in posting order) is still >= 0, i.e.
  a payout freezes at most the positive balance due then; later recoupments may take it below
  zero, and the next payouts net them;
- a payout's amount is the sum of its lines, each line one of its provider's entries, and no
  journal entry is covered by two payouts; one payout per provider and period;
- Stripe agrees: each payout has at most one transfer (its transfer group), one exactly when it
  is paid, of its amount to its provider's account, none when cancelled; payouts_in_transit
  holds exactly the frozen payouts neither transferred nor cancelled, and transfers, reversals
  and cancellations are booked once each.

Each example runs in a savepoint of the test's transaction (rolled back afterwards) from the
same world, with the clock frozen at the conftest's instant. HEARTH_PROPERTY_EXAMPLES raises the
number of examples (the reliability suite's); 40 by default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.core import clock as hearth_clock
from services.core.settings import Settings
from services.core.transactions import Transactions
from services.ledger.service import get_trial_balance
from services.payments.gateway import StripeGateway
from tests.conftest import FROZEN_AT
from tests.payments import world as pw
from tests.payouts import event_world as ev
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

EXAMPLES = int(os.environ.get("HEARTH_PROPERTY_EXAMPLES", "40"))
PROVIDERS = 3

COMPLETE = st.tuples(st.just("complete"), st.integers(0, PROVIDERS - 1), st.booleans())
# (which claim, outcome, copay, what a reversal's correction pays less)
REMIT = st.tuples(
    st.just("remit"),
    st.integers(0, 50),
    st.sampled_from(["paid", "paid", "denied_recoup", "denied_absorb", "reversal", "reversal"]),
    st.sampled_from([0, 0, 2_000]),
    st.integers(1, 15_000),
)
ADVANCE = st.tuples(st.just("advance"), st.integers(1, 4))
RUN = st.tuples(st.just("run"), st.integers(-1, PROVIDERS - 1))  # -1: every provider due today
# Listed more than once: drawn more often (a remittance or a run finds something to do).
STEP = st.one_of(
    COMPLETE,
    COMPLETE,
    st.tuples(st.just("capture")),
    REMIT,
    REMIT,
    ADVANCE,
    ADVANCE,
    RUN,
    RUN,
    st.tuples(st.just("transfer")),
    st.tuples(st.just("transfer")),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(1, 100)),
    # A provider's account stops receiving transfers (their next one fails) or receives again.
    st.tuples(st.just("receive"), st.integers(0, PROVIDERS - 1), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    # Three days on, every provider's payout run and the transfers: payouts in most examples.
    st.tuples(st.just("payday")),
    st.tuples(st.just("payday")),
)
STEPS = st.lists(STEP, min_size=10, max_size=30)


async def _transfers(p: ev.Parts) -> None:
    # A provider's account that stopped receiving transfers fails theirs; every other pays.
    assert set(await r.run_transfers(p.db, p.tx, p.gateway)) <= {"paid", "failed"}


async def _run(p: ev.Parts, who: int) -> None:
    await r.run(p.db, provider_id=None if who < 0 else p.world.providers[who].provider_id)


async def _payday(p: ev.Parts) -> None:
    hearth_clock.CLOCK.advance(timedelta(days=3))
    for n in range(len(p.world.providers)):
        await _run(p, n)
    await _transfers(p)


async def _advance(p: ev.Parts, days: int) -> None:
    hearth_clock.CLOCK.advance(timedelta(days=days))


EVENTS: dict[str, Any] = {
    "complete": lambda p, n, in_network: ev.complete_session(p, p.world.providers[n], in_network),
    "capture": lambda p: pw.run_charges(p.db, p.tx, p.gateway),
    "remit": ev.remit,
    "advance": _advance,
    "run": _run,
    "transfer": _transfers,
    "reverse": ev.reverse_transfer,
    "receive": lambda p, n, requested: ev.receive_transfers(p, p.world.providers[n], requested),
    "cancel": ev.cancel_failed,
    "payday": _payday,
}


async def apply(p: ev.Parts, step: tuple[Any, ...]) -> None:
    await EVENTS[step[0]](p, *step[1:])


# Per provider_payable entry of each provider, in posting order: the running balance (credits
# less debits) just after it.
_RUNNING = """
SELECT a.owner_id AS provider_id, e.id AS entry_id, e.kind,
       sum(sum(CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END))
           OVER (PARTITION BY a.owner_id ORDER BY e.id) AS running
FROM ledger_accounts a
JOIN journal_lines l ON l.account_id = a.id
JOIN journal_entries e ON e.id = l.entry_id
WHERE a.kind = 'provider_payable'
GROUP BY a.owner_id, e.id, e.kind
"""


async def check_books(db: asyncpg.Connection) -> None:
    # PostgreSQL's own COMMIT-time balance checks, run now inside the test's transaction.
    await db.execute("SET CONSTRAINTS journal_entries_balanced, journal_lines_balanced IMMEDIATE")
    await db.execute("SET CONSTRAINTS journal_entries_balanced, journal_lines_balanced DEFERRED")
    trial = await get_trial_balance(db)
    assert trial.imbalance_cents == 0
    assert trial.debits_cents == trial.credits_cents


async def check_never_overpaid(db: asyncpg.Connection) -> None:
    rows = await db.fetch(_RUNNING)
    overpaid = [dict(x) for x in rows if x["kind"] == "payout_frozen" and x["running"] < 0]
    assert overpaid == [], "a payout froze more than the provider was owed"


# Per claim: what its recoupments took from the provider, and what its session earned them.
_RECOUPED = """
SELECT c.id AS claim_id,
       (SELECT sum(l.amount_cents) FROM journal_entries e
        JOIN journal_lines l ON l.entry_id = e.id AND l.side = 'debit'
        JOIN remitted_claims rc ON rc.id = e.source_id
        WHERE e.kind = 'recoupment' AND rc.claim_id = c.id) AS recouped,
       (SELECT sum(CASE WHEN l.side = 'credit' THEN l.amount_cents ELSE -l.amount_cents END)
        FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
        JOIN ledger_accounts a ON a.id = l.account_id AND a.kind = 'provider_payable'
        WHERE e.source_table = 'therapy_sessions' AND e.source_id = c.therapy_session_id)
           AS earned
FROM claims c
"""


async def check_recoupments(db: asyncpg.Connection) -> None:
    rows = await db.fetch(_RECOUPED)
    over = [dict(x) for x in rows if (x["recouped"] or 0) > (x["earned"] or 0)]
    assert over == [], "a claim's recoupment took more than its session earned the provider"


async def check_payouts(db: asyncpg.Connection) -> None:
    twice = await db.fetch(
        "SELECT entry_id FROM payout_lines GROUP BY entry_id HAVING count(*) > 1"
    )
    assert twice == [], "a journal entry covered by two payouts"
    periods = await db.fetch(
        "SELECT provider_id, period_end FROM payouts GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert periods == [], "two payouts for one provider and period"
    mismatched = await db.fetch(
        """
        SELECT p.id FROM payouts p
        LEFT JOIN payout_lines x ON x.payout_id = p.id
        GROUP BY p.id
        HAVING p.amount_cents <> coalesce(sum(x.amount_cents), 0)
            OR p.amount_cents <= 0
            OR bool_or(x.provider_id <> p.provider_id)
        """
    )
    assert mismatched == [], "a payout's amount is not its lines'"
    foreign = await db.fetch(
        """
        SELECT x.entry_id FROM payout_lines x JOIN payouts p ON p.id = x.payout_id
        WHERE NOT EXISTS (
            SELECT 1 FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id
            WHERE l.entry_id = x.entry_id AND a.kind = 'provider_payable'
              AND a.owner_id = p.provider_id)
        """
    )
    assert foreign == [], "a payout line that is no entry of its provider's payable"
    # Each payout frozen once in the ledger, of its amount.
    frozen = await db.fetch(
        """
        SELECT p.id FROM payouts p
        LEFT JOIN journal_entries e ON e.kind = 'payout_frozen' AND e.source_id = p.id
        LEFT JOIN journal_lines l ON l.entry_id = e.id AND l.side = 'debit'
        GROUP BY p.id HAVING count(l.id) <> 1 OR max(l.amount_cents) <> p.amount_cents
        """
    )
    assert frozen == []


async def check_stripe(db: asyncpg.Connection, sdk: stripe.StripeClient) -> None:
    payouts = await db.fetch(
        "SELECT id, status, amount_cents, reversed_cents, destination, stripe_transfer_id,"
        " transfer_group FROM payouts"
    )
    in_transit, paid_cents, reversed_cents = 0, 0, 0
    for payout in payouts:
        made = sdk.v1.transfers.list(params={"transfer_group": payout["transfer_group"]}).data
        if payout["status"] == "paid":
            (transfer,) = made
            assert (transfer.id, transfer.amount, transfer.destination) == (
                payout["stripe_transfer_id"],
                payout["amount_cents"],
                payout["destination"],
            )
            assert transfer.amount_reversed == payout["reversed_cents"]
            paid_cents += payout["amount_cents"]
            reversed_cents += payout["reversed_cents"]
        else:
            assert made == [], "a payout not paid has a transfer"
            in_transit += payout["amount_cents"] if payout["status"] != "cancelled" else 0
    assert await r.balance(db, "payouts_in_transit") == in_transit
    booked = await db.fetchrow(
        """
        SELECT coalesce(sum(l.amount_cents) FILTER (WHERE e.kind = 'payout_transferred'), 0)
                   AS transferred,
               coalesce(sum(l.amount_cents) FILTER (WHERE e.kind = 'transfer_reversed'), 0)
                   AS reversed,
               coalesce(sum(l.amount_cents) FILTER (WHERE e.kind = 'payout_cancelled'), 0)
                   AS cancelled
        FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id AND l.side = 'debit'
        WHERE e.kind IN ('payout_transferred', 'transfer_reversed', 'payout_cancelled')
        """
    )
    cancelled_cents = sum(p["amount_cents"] for p in payouts if p["status"] == "cancelled")
    assert (booked["transferred"], booked["reversed"], booked["cancelled"]) == (
        paid_cents, reversed_cents, cancelled_cents)  # fmt: skip


_worlds: dict[int, ev.World] = {}


@settings(
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
async def test_random_events_keep_the_books_balanced_and_never_overpay(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: Any,
    clock: hearth_clock.Clock, steps: list[tuple[Any, ...]],
) -> None:  # fmt: skip
    clock.freeze(FROZEN_AT)
    world = _worlds.get(id(db))
    if world is None:
        _worlds.clear()
        world = await ev.build_world(db, api, tx, gateway, stripe_client, settings, token,
                                     PROVIDERS)  # fmt: skip
        _worlds[id(db)] = world
        # The platform's Stripe balance, enough for every example's transfers.
        await r.fund(stripe_client, 50_000_000)
    example = db.transaction()  # a savepoint: each example starts from the same world
    await example.start()
    try:
        parts = ev.Parts(db, api, tx, gateway, stripe_client, settings, token, world)
        for provider in world.providers:  # the simulator keeps an earlier example's refusal
            await ev.receive_transfers(parts, provider, True)
        for step in steps:
            await apply(parts, step)
            await check_books(db)
            await check_never_overpaid(db)
            await check_payouts(db)
            await check_stripe(db, stripe_client)
        for kind in await db.fetch("SELECT DISTINCT kind FROM journal_entries"):
            event(f"entry {kind['kind']}")
        for outcome in await db.fetch("SELECT DISTINCT outcome FROM remitted_claims"):
            event(f"835 {outcome['outcome']}")
        for status in await db.fetch("SELECT DISTINCT status FROM payouts"):
            event(f"payout {status['status']}")
    finally:
        await example.rollback()


async def test_a_recouped_denial_takes_back_no_more_than_the_session_earned(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, settings: Settings, token: Any,
    clock: hearth_clock.Clock,
) -> None:  # fmt: skip
    """Found by the property: a CO-50 denial (recoup) of a 90837 allowed $150.00 whose provider
    was credited $110.00 took $150.00 back from them, the platform's margin included."""
    world = await ev.build_world(db, api, tx, gateway, stripe_client, settings, token, 1)
    parts = ev.Parts(db, api, tx, gateway, stripe_client, settings, token, world)
    await ev.complete_session(parts, world.providers[0], in_network=True)
    await ev.remit(parts, 0, "denied_recoup", 0, 0)
    assert await r.entries(db, "recoupment") == 1
    await check_recoupments(db)
