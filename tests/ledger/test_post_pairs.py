"""post_pairs: many two-line entries of one kind in one statement, under post_entry's rules
(validated, once per key, another event under a taken key refused, balanced)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from schemas.ledger import AccountRef, EntryIn, Line, Pair
from services.core import clock
from services.ledger import service as ledger
from services.ledger.errors import BadEntry, EntryKeyReused
from tests.factories import make_provider_actor
from tests.ledger.test_service import _entries

FROZEN = ("provider_payable", "payouts_in_transit")
SOURCE = ("payouts", "payout frozen")


async def _providers(db: asyncpg.Connection, n: int) -> list[uuid.UUID]:
    return [(await make_provider_actor(db)).provider_id for _ in range(n)]  # type: ignore[misc]


def _frozen(providers: list[uuid.UUID], cents: int = 12_345) -> list[Pair]:
    return [Pair(source_id=uuid.uuid4(), amount_cents=cents + n, debit_owner=p)
            for n, p in enumerate(providers)]  # fmt: skip


async def test_each_pair_is_an_entry_as_post_entry_would_make_it(db: asyncpg.Connection) -> None:
    providers = await _providers(db, 3)
    pairs = _frozen(providers)
    before = await _entries(db)
    await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), pairs)
    assert await _entries(db) == before + 3
    for pair in pairs:
        posted = await db.fetch(
            "SELECT e.kind, e.source_table, e.source_id, e.memo, a.kind AS account, a.owner_id,"
            " l.side, l.amount_cents FROM journal_entries e"
            " JOIN journal_lines l ON l.entry_id = e.id"
            " JOIN ledger_accounts a ON a.id = l.account_id"
            " WHERE e.idempotency_key = $1 ORDER BY l.side DESC",
            f"payout_frozen-{pair.source_id}",
        )  # fmt: skip
        assert [tuple(r) for r in posted] == [
            ("payout_frozen", "payouts", pair.source_id, "payout frozen", "provider_payable",
             pair.debit_owner, "debit", pair.amount_cents),
            ("payout_frozen", "payouts", pair.source_id, "payout frozen", "payouts_in_transit",
             None, "credit", pair.amount_cents),
        ]  # fmt: skip
        payable = AccountRef(kind="provider_payable", owner_id=pair.debit_owner)
        assert (await ledger.get_account_balance(db, payable)).balance_cents == -pair.amount_cents
    in_transit = AccountRef(kind="payouts_in_transit")
    total = sum(p.amount_cents for p in pairs)
    assert (await ledger.get_account_balance(db, in_transit)).balance_cents == total
    await db.execute("SET CONSTRAINTS journal_entries_balanced IMMEDIATE")  # COMMIT's check
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def test_pairs_posted_again_are_the_same_events(db: asyncpg.Connection) -> None:
    pairs = _frozen(await _providers(db, 2))
    await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), pairs)
    before = await _entries(db)
    await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), pairs)
    assert await _entries(db) == before


async def test_a_pair_posted_by_post_entry_before_is_the_same_event(
    db: asyncpg.Connection,
) -> None:
    """The single-payout path posts the same entry with post_entry: either may come first."""
    (pair,) = _frozen(await _providers(db, 1))
    await ledger.post_entry(db, EntryIn(
        kind="payout_frozen", idempotency_key=f"payout_frozen-{pair.source_id}",
        source_table="payouts", source_id=pair.source_id, memo="another memo",
        lines=(Line(account=AccountRef(kind="provider_payable", owner_id=pair.debit_owner),
                    side="debit", amount_cents=pair.amount_cents),
               Line(account=AccountRef(kind="payouts_in_transit"), side="credit",
                    amount_cents=pair.amount_cents)),
    ))  # fmt: skip
    before = await _entries(db)
    await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), [pair])
    assert await _entries(db) == before


async def test_another_amount_under_a_taken_key_is_refused(db: asyncpg.Connection) -> None:
    (pair,) = _frozen(await _providers(db, 1))
    await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), [pair])
    other = Pair(source_id=pair.source_id, amount_cents=pair.amount_cents + 1,
                 debit_owner=pair.debit_owner)  # fmt: skip
    with pytest.raises(EntryKeyReused, match=f"payout_frozen-{pair.source_id}"):
        await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), [other])


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"amount_cents": 0}, BadEntry, "positive cents"),
        ({"amount_cents": 100_000_000_001}, BadEntry, "positive cents"),
        ({"debit_owner": None}, BadEntry, "provider_payable account's owner"),
        ({"credit_owner": uuid.UUID(int=1)}, BadEntry, "payouts_in_transit account's owner"),
        ({"source_id": "first"}, EntryKeyReused, "given twice"),
    ],
)
async def test_a_bad_pair_refuses_the_batch_and_writes_nothing(
    db: asyncpg.Connection, change: dict[str, object], error: type[Exception], message: str
) -> None:
    pairs = _frozen(await _providers(db, 3))
    if change.get("source_id") == "first":
        change = {"source_id": pairs[0].source_id}
    fields = {"source_id": pairs[2].source_id, "amount_cents": pairs[2].amount_cents,
              "debit_owner": pairs[2].debit_owner, "credit_owner": None} | change  # fmt: skip
    pairs[2] = Pair(**fields)  # type: ignore[arg-type]
    before = await _entries(db)
    with pytest.raises(error, match=message):
        await ledger.post_pairs(db, "payout_frozen", FROZEN, SOURCE, clock.now(), pairs)
    assert await _entries(db) == before


async def test_the_first_pair_is_validated_whole(db: asyncpg.Connection) -> None:
    """Kind, source, memo and sides as an EntryIn's (a payer_receivable line names its claim,
    which a pair cannot)."""
    (pair,) = _frozen(await _providers(db, 1))
    with pytest.raises(BadEntry):
        await ledger.post_pairs(db, "payout_frozen", FROZEN, ("Payouts!", "x"), clock.now(),
                                [pair])  # fmt: skip
    with pytest.raises(BadEntry, match="names its claim"):
        await ledger.post_pairs(
            db, "claim_remitted", ("payer_receivable", "stripe_balance"), SOURCE, clock.now(),
            [Pair(source_id=uuid.uuid4(), amount_cents=100, debit_owner=uuid.uuid4())],
        )  # fmt: skip
