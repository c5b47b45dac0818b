"""post_entries: many entries in one go, under post_entry's rules (validation, once per key,
another event under a taken key refused, balances and claim receivables as one by one)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from schemas.ledger import AccountRef
from services.ledger import service as ledger
from services.ledger.errors import BadEntry, EntryKeyReused, UnbalancedEntry
from tests.factories import make_claim, make_client_actor, make_payer, make_provider_actor
from tests.ledger.test_service import FEES, STRIPE, _capture, _entries, _entry, _line


async def test_many_entries_post_with_their_lines_and_balances(db: asyncpg.Connection) -> None:
    clients = [(await make_client_actor(db)).client_id for _ in range(3)]
    before = await _entries(db)
    await ledger.post_entries(db, [_capture(client) for client in clients])
    assert await _entries(db) == before + 3
    for client in clients:
        receivable = AccountRef(kind="client_receivable", owner_id=client)
        assert (await ledger.get_account_balance(db, receivable)).balance_cents == -10_000
    assert (await ledger.get_account_balance(db, STRIPE)).balance_cents == 3 * 9_680
    lines = await db.fetchval(
        "SELECT count(*) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id"
        " WHERE e.id > (SELECT max(id) - 3 FROM journal_entries)"
    )
    assert lines == 9
    assert (await ledger.get_trial_balance(db)).imbalance_cents == 0


async def test_claim_receivables_of_many_claims_read_at_once(db: asyncpg.Connection) -> None:
    payer, provider = await make_payer(db), await make_provider_actor(db)
    first = await make_claim(db, payer.id, provider)
    second = await make_claim(db, payer.id, provider)
    receivable = AccountRef(kind="payer_receivable", owner_id=payer.id)
    await ledger.post_entries(
        db,
        [
            _entry(_line(receivable, "debit", cents, claim), _line(FEES, "credit", cents))
            for claim, cents in ((first, 6_500), (second, 6_000), (first, 500))
        ],
    )
    nobody = uuid.uuid4()
    assert await ledger.get_claim_receivables(db, [first, second, nobody]) == {
        first: 7_000, second: 6_000, nobody: 0,
    }  # fmt: skip


async def test_a_key_posted_before_with_the_same_lines_is_that_event(
    db: asyncpg.Connection,
) -> None:
    client = (await make_client_actor(db)).client_id
    first = await ledger.post_entry(db, _capture(client, key="capture-1"))
    await ledger.post_entries(db, [_capture(client, key="capture-1"), _capture(client)])
    assert await db.fetchval(
        "SELECT count(*) FROM journal_entries WHERE idempotency_key = 'capture-1'"
    ) == 1  # fmt: skip
    assert (await ledger.get_entry(db, "capture-1")) == first


async def test_a_key_taken_by_another_event_is_refused(db: asyncpg.Connection) -> None:
    client, other = (await make_client_actor(db)).client_id, (await make_client_actor(db)).client_id
    await ledger.post_entry(db, _capture(client, key="capture-2"))
    with pytest.raises(EntryKeyReused):
        await ledger.post_entries(db, [_capture(other, key="capture-2")])


async def test_one_key_twice_in_a_batch_is_refused(db: asyncpg.Connection) -> None:
    client = (await make_client_actor(db)).client_id
    before = await _entries(db)
    with pytest.raises(EntryKeyReused):
        await ledger.post_entries(db, [_capture(client, key="k"), _capture(client, key="k")])
    assert await _entries(db) == before


async def test_an_unbalanced_or_bad_entry_refuses_the_whole_batch(db: asyncpg.Connection) -> None:
    client = (await make_client_actor(db)).client_id
    before = await _entries(db)
    unbalanced = _entry(_line(STRIPE, "debit", 100), _line(FEES, "credit", 99))
    with pytest.raises(UnbalancedEntry):
        await ledger.post_entries(db, [_capture(client), unbalanced])
    with pytest.raises(BadEntry):
        await ledger.post_entries(db, [_capture(client), _entry(_line(STRIPE, "debit", 100))])
    assert await _entries(db) == before
