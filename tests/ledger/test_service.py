"""post_entry: its own validation, idempotency by key (also across connections), balances."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import msgspec
import pytest

from schemas.ledger import AccountRef, EntryIn, Line, Side
from services.core import clock
from services.ledger import service as ledger
from services.ledger.errors import BadEntry, EntryKeyReused, UnbalancedEntry
from tests.factories import make_claim, make_client_actor, make_payer, make_provider_actor

STRIPE = AccountRef(kind="stripe_balance")
FEES = AccountRef(kind="processing_fees")
REVENUE = AccountRef(kind="platform_revenue")


def _entry(*lines: Line, key: str | None = None, kind: str = "card_captured") -> EntryIn:
    return msgspec.convert(
        {
            "kind": kind,
            "idempotency_key": key or f"test-{uuid.uuid4()}",
            "source_table": "payments",
            "source_id": str(uuid.UUID(int=7)),
            "lines": [msgspec.to_builtins(line) for line in lines],
        },
        EntryIn,
    )


def _line(account: AccountRef, side: Side, cents: int, claim: uuid.UUID | None = None) -> Line:
    return Line(account=account, side=side, amount_cents=cents, claim_id=claim)


def _capture(client_id: uuid.UUID, key: str | None = None) -> EntryIn:
    """DESIGN's card capture: Dr stripe_balance (net), Dr processing_fees, Cr client_receivable."""
    receivable = AccountRef(kind="client_receivable", owner_id=client_id)
    return _entry(
        _line(STRIPE, "debit", 9_680),
        _line(FEES, "debit", 320),
        _line(receivable, "credit", 10_000),
        key=key,
    )


async def _entries(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM journal_entries")
    return count


async def test_a_capture_posts_and_the_balances_follow(
    db: asyncpg.Connection, clock: clock.Clock
) -> None:
    client = (await make_client_actor(db)).client_id
    assert client is not None
    posted = await ledger.post_entry(db, _capture(client))
    assert posted.occurred_at == clock.now()
    assert [(x.kind, x.side, x.amount_cents) for x in posted.lines] == [
        ("stripe_balance", "debit", 9_680),
        ("processing_fees", "debit", 320),
        ("client_receivable", "credit", 10_000),
    ]
    assert posted.lines[2].owner_id == client
    stripe = await ledger.get_account_balance(db, STRIPE)
    assert (stripe.debits_cents, stripe.credits_cents, stripe.balance_cents) == (9_680, 0, 9_680)
    # Debit-normal: a client who paid before owing anything has a negative receivable.
    (own,) = await ledger.list_owner_balances(db, client)
    assert (own.kind, own.balance_cents) == ("client_receivable", -10_000)
    trial = await ledger.get_trial_balance(db)
    assert (trial.debits_cents, trial.credits_cents, trial.imbalance_cents) == (10_000, 10_000, 0)
    await db.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the database's check, now: it passes


async def test_credit_normal_accounts_show_what_is_owed_as_positive(db: asyncpg.Connection) -> None:
    provider_id = (await make_provider_actor(db)).provider_id
    payable = AccountRef(kind="provider_payable", owner_id=provider_id)
    await ledger.post_entry(db, _entry(_line(STRIPE, "debit", 500), _line(payable, "credit", 500)))
    balance = await ledger.get_account_balance(db, payable)
    assert (balance.balance_cents, balance.credits_cents) == (500, 500)


async def test_an_account_without_lines_has_a_zero_balance(db: asyncpg.Connection) -> None:
    balance = await ledger.get_account_balance(db, AccountRef(kind="bad_debt"))
    assert balance.account_id is None
    assert balance.balance_cents == 0
    assert await ledger.list_owner_balances(db, uuid.uuid4()) == []


async def test_claim_receivables_are_kept_apart(db: asyncpg.Connection) -> None:
    payer = (await make_payer(db)).id
    receivable = AccountRef(kind="payer_receivable", owner_id=payer)
    adjustment = AccountRef(kind="contractual_adjustment")
    first, second = await make_claim(db, payer), await make_claim(db, payer)
    await ledger.post_entry(
        db,
        _entry(
            _line(receivable, "debit", 8_000, first),
            _line(receivable, "debit", 6_000, second),
            _line(REVENUE, "credit", 14_000),
            kind="completion",
        ),
    )
    await ledger.post_entry(
        db,
        _entry(
            _line(adjustment, "debit", 1_500, first),  # a claim id off payer_receivable
            _line(receivable, "credit", 1_500, first),
            kind="claim_remitted",
        ),
    )
    assert await ledger.get_claim_receivable(db, first) == 6_500
    assert await ledger.get_claim_receivable(db, second) == 6_000
    assert await ledger.get_claim_receivable(db, uuid.uuid4()) == 0
    assert (await ledger.get_account_balance(db, receivable)).balance_cents == 12_500


@pytest.mark.parametrize(
    ("lines", "error", "field"),
    [
        ([_line(STRIPE, "debit", 100)], BadEntry, "lines"),
        ([], BadEntry, "lines"),
        ([_line(STRIPE, "debit", 0), _line(FEES, "credit", 0)], BadEntry, "lines[0].amount_cents"),
        (
            [_line(STRIPE, "debit", 100), _line(FEES, "credit", -100), _line(FEES, "credit", 200)],
            BadEntry,
            "lines[1].amount_cents",
        ),
        ([_line(STRIPE, "debit", 100), _line(FEES, "credit", 99)], UnbalancedEntry, "lines"),
        (
            [
                _line(STRIPE, "debit", 100),
                _line(AccountRef(kind="bank"), "debit", 1),
                _line(FEES, "credit", 100),
            ],
            UnbalancedEntry,
            "lines",
        ),
        (
            [
                _line(STRIPE, "debit", 100),
                _line(AccountRef(kind="provider_payable"), "credit", 100),
            ],
            BadEntry,
            "lines[1].account.owner_id",
        ),
        (
            [
                _line(AccountRef(kind="bank", owner_id=uuid.uuid4()), "debit", 100),
                _line(FEES, "credit", 100),
            ],
            BadEntry,
            "lines[0].account.owner_id",
        ),
        (
            [
                _line(AccountRef(kind="payer_receivable", owner_id=uuid.uuid4()), "debit", 100),
                _line(FEES, "credit", 100),
            ],
            BadEntry,
            "lines[0].claim_id",
        ),
    ],
)
async def test_refusals_name_the_rule_and_write_nothing(
    db: asyncpg.Connection, lines: list[Line], error: type[Exception], field: str
) -> None:
    entry = EntryIn(
        kind="top_up",
        idempotency_key="refused-1",
        source_table="topups",
        source_id=uuid.uuid4(),
        lines=tuple(lines),
    )
    with pytest.raises(error) as refused:
        await ledger.post_entry(db, entry)
    assert getattr(refused.value, "field", None) == field
    assert await _entries(db) == 0
    assert await db.fetchval("SELECT count(*) FROM ledger_accounts") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"idempotency_key": "has a space"},
        {"idempotency_key": ""},
        {"source_table": "Payments; DROP"},
        {"memo": "line\nbreak"},
        {"lines": (_line(STRIPE, "debit", 10**12), _line(FEES, "credit", 10**12))},
        {"lines": (_line(STRIPE, "debit", 1), _line(FEES, "credit", 1)) * 51},
    ],
)
async def test_the_schema_bounds_hold_for_entries_built_in_code(
    db: asyncpg.Connection, change: dict[str, object]
) -> None:
    good = _entry(_line(STRIPE, "debit", 100), _line(FEES, "credit", 100))
    with pytest.raises(BadEntry) as refused:
        await ledger.post_entry(db, msgspec.structs.replace(good, **change))
    assert type(refused.value) is BadEntry  # balanced, so refused for the bound itself
    assert await _entries(db) == 0


async def test_a_naive_time_is_refused(db: asyncpg.Connection) -> None:
    entry = _entry(_line(STRIPE, "debit", 100), _line(FEES, "credit", 100))
    naive = msgspec.structs.replace(entry, occurred_at=clock.CLOCK.now().replace(tzinfo=None))
    with pytest.raises(BadEntry, match="timezone"):
        await ledger.post_entry(db, naive)


async def test_the_same_key_posts_once(db: asyncpg.Connection, clock: clock.Clock) -> None:
    client = (await make_client_actor(db)).client_id
    assert client is not None
    first = await ledger.post_entry(db, _capture(client, key="capture-1"))
    clock.advance(timedelta(days=3))  # a webhook delivered again
    again = _capture(client, key="capture-1")
    # The same lines in another order, another memo: the same event.
    again = msgspec.structs.replace(again, lines=again.lines[::-1], memo="redelivered")
    assert await ledger.post_entry(db, again) == first
    assert await _entries(db) == 1
    assert (await ledger.get_trial_balance(db)).debits_cents == 10_000


async def test_the_same_key_with_other_lines_is_a_conflict(db: asyncpg.Connection) -> None:
    client = (await make_client_actor(db)).client_id
    assert client is not None
    first = await ledger.post_entry(db, _capture(client, key="capture-2"))
    other = _entry(
        _line(STRIPE, "debit", 10_000), _line(REVENUE, "credit", 10_000), key="capture-2"
    )
    with pytest.raises(EntryKeyReused, match=f"journal entry {first.id}"):
        await ledger.post_entry(db, other)
    other_kind = msgspec.structs.replace(_capture(client, key="capture-2"), kind="refund")
    with pytest.raises(EntryKeyReused):
        await ledger.post_entry(db, other_kind)
    assert await _entries(db) == 1


async def _waiting_on_a_lock(url: str, pid: int) -> None:
    """Until backend `pid` waits for a lock another transaction holds."""
    watcher = await asyncpg.connect(url)
    try:
        for _ in range(500):
            if await watcher.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
            ):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the second post never waited for the first")
    finally:
        await watcher.close()


async def test_concurrent_posts_of_one_key_make_one_entry(committed_db: str) -> None:
    """Two connections post the same event (new payer account included) at the same moment:
    the second waits for the first to commit, then both callers get the one entry."""
    first, second = await asyncpg.connect(committed_db), await asyncpg.connect(committed_db)
    try:
        payer = (await make_payer(first)).id
        receivable = AccountRef(kind="payer_receivable", owner_id=payer)
        async with first.transaction():
            claim = await make_claim(first, payer)
        entry = _entry(
            _line(receivable, "debit", 4_200, claim), _line(REVENUE, "credit", 4_200), key="race-1"
        )
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        posted_first = await ledger.post_entry(first, entry)
        racing = asyncio.create_task(ledger.post_entry(second, entry))
        await _waiting_on_a_lock(committed_db, second.get_server_pid())
        await tx1.commit()
        posted_second = await racing
        await tx2.commit()
        assert posted_second == posted_first
        assert await first.fetchval("SELECT count(*) FROM journal_entries") == 1
        assert await first.fetchval("SELECT count(*) FROM journal_lines") == 2
        assert await first.fetchval("SELECT count(*) FROM ledger_accounts") == 2
        assert await ledger.get_claim_receivable(first, claim) == 4_200
    finally:
        await first.close()
        await second.close()


async def test_a_rolled_back_first_post_leaves_the_key_to_the_second(committed_db: str) -> None:
    first, second = await asyncpg.connect(committed_db), await asyncpg.connect(committed_db)
    try:
        entry = _entry(_line(STRIPE, "debit", 100), _line(FEES, "credit", 100), key="race-2")
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await ledger.post_entry(first, entry)
        racing = asyncio.create_task(ledger.post_entry(second, entry))
        await _waiting_on_a_lock(committed_db, second.get_server_pid())
        await tx1.rollback()
        posted = await racing
        await tx2.commit()
        ids = await first.fetch("SELECT id FROM journal_entries")
        assert [r["id"] for r in ids] == [posted.id]
    finally:
        await first.close()
        await second.close()
