"""PostgreSQL itself keeps the ledger double-entry: raw SQL, no application code in the way.

Each test commits (its own database), since the balance is checked at COMMIT.
"""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import AsyncGenerator

import asyncpg
import pytest

from schemas.ledger import EntryKind
from tests.conftest import FROZEN_AT
from tests.factories import make_payer

_ENTRY = """
    INSERT INTO journal_entries (kind, idempotency_key, occurred_at, source_table, source_id)
    VALUES ('top_up', $1, $2, 'topups', $3) RETURNING id
"""
_LINE = """
    INSERT INTO journal_lines (entry_id, account_id, side, amount_cents) VALUES ($1, $2, $3, $4)
"""

# A balanced pair of lines in one statement: Dr $2, Cr $3, 7 cents each, on entry $1.
_PAIR = """
    INSERT INTO journal_lines (entry_id, account_id, side, amount_cents)
    VALUES ($1, $2, 'debit', 7), ($1, $3, 'credit', 7)
"""


@pytest.fixture
async def conn(committed_db: str) -> AsyncGenerator[asyncpg.Connection, None]:
    conn = await asyncpg.connect(committed_db)
    yield conn
    await conn.close()


async def _accounts(conn: asyncpg.Connection) -> tuple[int, int]:
    rows = await conn.fetch(
        "INSERT INTO ledger_accounts (kind) VALUES ('stripe_balance'), ('bank') RETURNING id"
    )
    return rows[0]["id"], rows[1]["id"]


async def _entry(conn: asyncpg.Connection) -> int:
    entry_id: int = await conn.fetchval(_ENTRY, uuid.uuid4().hex, FROZEN_AT, uuid.uuid4())
    return entry_id


async def _post(conn: asyncpg.Connection, *lines: tuple[int, str, int]) -> int:
    """One entry with `lines` (account, side, cents), committed."""
    async with conn.transaction():
        entry_id = await _entry(conn)
        for account, side, cents in lines:
            await conn.execute(_LINE, entry_id, account, side, cents)
    return entry_id


async def _counts(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM journal_lines)"
    )
    assert row is not None
    return row[0], row[1]


async def test_a_balanced_entry_commits(conn: asyncpg.Connection) -> None:
    stripe, bank = await _accounts(conn)
    await _post(conn, (stripe, "debit", 5000), (bank, "credit", 3000), (bank, "credit", 2000))
    assert await _counts(conn) == (1, 3)


async def test_an_unbalanced_entry_is_refused_at_commit(conn: asyncpg.Connection) -> None:
    stripe, bank = await _accounts(conn)
    tx = conn.transaction()
    await tx.start()
    entry_id = await _entry(conn)
    await conn.execute(_LINE, entry_id, stripe, "debit", 100)
    await conn.execute(_LINE, entry_id, bank, "credit", 99)  # accepted until COMMIT
    with pytest.raises(asyncpg.CheckViolationError, match="does not balance") as refused:
        await tx.commit()
    assert refused.value.constraint_name == "journal_entry_balanced"
    assert await _counts(conn) == (0, 0)


@pytest.mark.parametrize("lines", [0, 1])
async def test_an_entry_of_fewer_than_two_lines_is_refused(
    conn: asyncpg.Connection, lines: int
) -> None:
    stripe, _ = await _accounts(conn)
    tx = conn.transaction()
    await tx.start()
    entry_id = await _entry(conn)
    for _ in range(lines):
        await conn.execute(_LINE, entry_id, stripe, "debit", 100)
    with pytest.raises(asyncpg.CheckViolationError, match="at least two") as refused:
        await tx.commit()
    assert refused.value.constraint_name == "journal_entry_lines"
    assert await _counts(conn) == (0, 0)


async def test_lines_rolled_back_to_a_savepoint_leave_the_entry_refused(
    conn: asyncpg.Connection,
) -> None:
    stripe, bank = await _accounts(conn)
    tx = conn.transaction()
    await tx.start()
    entry_id = await _entry(conn)
    savepoint = conn.transaction()
    await savepoint.start()
    await conn.execute(_LINE, entry_id, stripe, "debit", 100)
    await conn.execute(_LINE, entry_id, bank, "credit", 100)
    await savepoint.rollback()
    with pytest.raises(asyncpg.CheckViolationError, match="at least two"):
        await tx.commit()
    assert await _counts(conn) == (0, 0)


@pytest.mark.parametrize("deferred_again", [False, True])
async def test_checking_early_does_not_let_a_later_line_through(
    conn: asyncpg.Connection, deferred_again: bool
) -> None:
    """SET CONSTRAINTS ... IMMEDIATE runs the pending checks then (they pass); a line added
    after is checked too: at once while immediate, at COMMIT once deferred again."""
    stripe, bank = await _accounts(conn)
    tx = conn.transaction()
    await tx.start()
    entry_id = await _entry(conn)
    await conn.execute(_LINE, entry_id, stripe, "debit", 100)
    await conn.execute(_LINE, entry_id, bank, "credit", 100)
    await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
    if deferred_again:
        await conn.execute("SET CONSTRAINTS ALL DEFERRED")
        await conn.execute(_LINE, entry_id, stripe, "debit", 1)
        with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
            await tx.commit()
    else:
        with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
            await conn.execute(_LINE, entry_id, stripe, "debit", 1)
        await tx.rollback()
    assert await _counts(conn) == (0, 0)


async def test_an_early_check_taken_back_with_its_savepoint_runs_again(
    conn: asyncpg.Connection,
) -> None:
    """An entry checked early inside a savepoint later rolled back is checked again at COMMIT,
    so a line added after the rollback is checked with it."""
    stripe, bank = await _accounts(conn)
    tx = conn.transaction()
    await tx.start()
    entry_id = await _entry(conn)
    await conn.execute(_PAIR, entry_id, stripe, bank)
    savepoint = conn.transaction()
    await savepoint.start()
    await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the entry's check runs, and passes
    await savepoint.rollback()
    await conn.execute(_LINE, entry_id, stripe, "debit", 1)
    with pytest.raises(asyncpg.CheckViolationError, match="does not balance"):
        await tx.commit()
    assert await _counts(conn) == (0, 0)


async def test_a_session_has_one_completion_entry(conn: asyncpg.Connection) -> None:
    session_id = uuid.uuid4()
    insert = """
        INSERT INTO journal_entries (kind, idempotency_key, occurred_at, source_table, source_id)
        VALUES ('completion', $1, $2, 'therapy_sessions', $3) RETURNING id
    """
    tx = conn.transaction()
    await tx.start()
    await conn.fetchval(insert, f"completion-{session_id}", FROZEN_AT, session_id)
    with pytest.raises(asyncpg.UniqueViolationError, match="journal_entries_one_completion"):
        await conn.fetchval(insert, f"completion-again-{session_id}", FROZEN_AT, session_id)
    await tx.rollback()


async def test_no_line_is_added_to_an_entry_later(conn: asyncpg.Connection) -> None:
    stripe, bank = await _accounts(conn)
    old = await _post(conn, (stripe, "debit", 100), (bank, "credit", 100))
    # Even a balanced pair, in a transaction that also writes an entry of its own.
    tx = conn.transaction()
    await tx.start()
    await _entry(conn)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match=f"entry {old} is closed"):
        await conn.execute(_PAIR, old, stripe, bank)
    await tx.rollback()
    assert await _counts(conn) == (1, 2)


async def test_an_older_snapshot_cannot_add_to_a_newer_entry(
    conn: asyncpg.Connection, committed_db: str
) -> None:
    """Under REPEATABLE READ, an entry committed after the snapshot is not visible to the
    trigger; the foreign key (checked against that snapshot) refuses the line instead."""
    stripe, bank = await _accounts(conn)
    other = await asyncpg.connect(committed_db)
    try:
        tx = other.transaction(isolation="repeatable_read")
        await tx.start()
        await other.fetchval("SELECT count(*) FROM journal_entries")  # the snapshot
        newer = await _post(conn, (stripe, "debit", 100), (bank, "credit", 100))
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await other.execute(_PAIR, newer, stripe, bank)
        await tx.rollback()
    finally:
        await other.close()
    assert await _counts(conn) == (1, 2)


async def test_the_creating_transaction_cannot_be_forged(conn: asyncpg.Connection) -> None:
    """created_xact is stamped by a trigger: naming another transaction's id changes nothing."""
    stripe, bank = await _accounts(conn)
    old = await _post(conn, (stripe, "debit", 100), (bank, "credit", 100))
    async with conn.transaction():
        stamped = await conn.fetchrow(
            """
            INSERT INTO journal_entries (kind, idempotency_key, occurred_at, source_table,
                                         source_id, created_xact)
            SELECT 'top_up', 'forged', $1, 'topups', gen_random_uuid(), created_xact
            FROM journal_entries WHERE id = $2
            RETURNING id, created_xact = pg_current_xact_id() AS ours
            """,
            FROZEN_AT,
            old,
        )
        assert stamped is not None
        assert stamped["ours"] is True
        await conn.execute(_LINE, stamped["id"], stripe, "debit", 5)
        await conn.execute(_LINE, stamped["id"], bank, "credit", 5)
    # The old entry's transaction is still not ours: it stays closed.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="is closed"):
        await conn.execute(_LINE, old, stripe, "debit", 1)
    assert await _counts(conn) == (2, 4)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_lines SET amount_cents = amount_cents + 1",
        "UPDATE journal_lines SET side = 'credit' WHERE side = 'debit'",
        "DELETE FROM journal_lines",
        "TRUNCATE journal_lines",
        "UPDATE journal_entries SET memo = 'edited'",
        "DELETE FROM journal_entries",
        "TRUNCATE journal_entries CASCADE",
        "UPDATE ledger_accounts SET kind = 'bad_debt' WHERE kind = 'bank'",
        "DELETE FROM ledger_accounts",
        "TRUNCATE ledger_accounts CASCADE",
    ],
)
async def test_entries_lines_and_accounts_are_immutable(
    conn: asyncpg.Connection, statement: str
) -> None:
    stripe, bank = await _accounts(conn)
    await _post(conn, (stripe, "debit", 100), (bank, "credit", 100))
    before = await conn.fetch("SELECT * FROM journal_lines ORDER BY id")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="is immutable"):
        await conn.execute(statement)
    assert await conn.fetch("SELECT * FROM journal_lines ORDER BY id") == before
    assert await conn.fetchval("SELECT count(*) FROM ledger_accounts") == 2


@pytest.mark.parametrize("cents", [0, -100])
async def test_amounts_are_positive(conn: asyncpg.Connection, cents: int) -> None:
    stripe, bank = await _accounts(conn)
    with pytest.raises(asyncpg.CheckViolationError, match="amount_cents"):
        # A negative debit would balance a negative credit: the sign is the side, never the amount.
        await _post(conn, (stripe, "debit", cents), (bank, "credit", cents))
    assert await _counts(conn) == (0, 0)


async def test_accounts_one_per_kind_and_owner(conn: asyncpg.Connection) -> None:
    payer = (await make_payer(conn)).id
    await conn.execute(
        "INSERT INTO ledger_accounts (kind, owner_id) VALUES ('payer_receivable', $1)", payer
    )
    await _accounts(conn)
    for kind, owner in [("payer_receivable", payer), ("bank", None)]:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO ledger_accounts (kind, owner_id) VALUES ($1, $2)", kind, owner
            )
    # Owned kinds name their owner, the platform's have none, and the owner must exist.
    refusals: list[tuple[str, uuid.UUID | None, type[Exception]]] = [
        ("provider_payable", None, asyncpg.CheckViolationError),
        ("stripe_balance", payer, asyncpg.CheckViolationError),
        ("payer_receivable", uuid.uuid4(), asyncpg.ForeignKeyViolationError),
        ("provider_payable", payer, asyncpg.ForeignKeyViolationError),  # a payer, not a provider
        ("petty_cash", None, asyncpg.CheckViolationError),
    ]
    for kind, owner, error in refusals:
        with pytest.raises(error):
            await conn.execute(
                "INSERT INTO ledger_accounts (kind, owner_id) VALUES ($1, $2)", kind, owner
            )
    assert await conn.fetchval("SELECT count(*) FROM ledger_accounts") == 3


async def test_the_database_knows_exactly_the_entry_kinds_the_code_names(
    conn: asyncpg.Connection,
) -> None:
    # Migrations rebuild the kind CHECK whole to add theirs: one that drops another's kind (or a
    # kind the code posts that no migration allowed) would fail here, not at a customer's post.
    check = await conn.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'journal_entries_kind'"
    )
    assert set(re.findall(r"'(\w+)'::text", check)) == set(typing.get_args(EntryKind))
