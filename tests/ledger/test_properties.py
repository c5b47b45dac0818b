"""Random balanced entries over random accounts: the trial balance stays zero, and every
account's balance is the signed sum of its own lines."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any, get_args

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.ledger import (
    ACCOUNT_KINDS,
    CREDIT_NORMAL,
    OWNED_KINDS,
    AccountRef,
    EntryIn,
    Line,
    Side,
)
from services.ledger import service as ledger
from tests.factories import make_claim, make_client_actor, make_payer

CLAIMS = 3  # claims per example, at one of the payers
PLATFORM = [AccountRef(kind=k) for k in ACCOUNT_KINDS if k not in OWNED_KINDS]
CENTS = st.integers(min_value=1, max_value=10_000_000)

# (account index, side, cents, claim index); the account index is taken modulo the world's.
_LINE = st.tuples(st.integers(0, 10_000), st.sampled_from(get_args(Side)), CENTS,
                  st.integers(0, CLAIMS - 1))  # fmt: skip
ENTRIES = st.lists(
    st.tuples(st.lists(_LINE, min_size=1, max_size=5), st.booleans()), min_size=1, max_size=8
)


async def _owners(db: asyncpg.Connection) -> list[AccountRef]:
    refs = []
    for _ in range(2):
        client = (await make_client_actor(db)).client_id
        refs.append(AccountRef(kind="client_receivable", owner_id=client))
        refs.append(AccountRef(kind="payer_receivable", owner_id=(await make_payer(db)).id))
    return refs


def _balanced(
    raw: list[tuple[int, Side, int, int]], accounts: list[AccountRef], claims: list[uuid.UUID]
) -> list[Line]:
    """The drawn lines, plus one that makes up the difference on the lighter side."""
    lines = [
        Line(
            account=accounts[a % len(accounts)],
            side=side,
            amount_cents=cents,
            claim_id=claims[c] if accounts[a % len(accounts)].kind == "payer_receivable" else None,
        )
        for a, side, cents, c in raw
    ]
    gap = sum(x.amount_cents if x.side == "debit" else -x.amount_cents for x in lines)
    if gap:  # never zero with one line drawn: at least two lines leave here
        # A platform account keeps the balancing line simple (no owner, no claim).
        account = PLATFORM[len(lines) % len(PLATFORM)]
        lines.append(Line(account=account, side="credit" if gap > 0 else "debit",
                          amount_cents=abs(gap)))  # fmt: skip
    return lines


@settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=ENTRIES)
async def test_random_entries_keep_the_books_balanced(
    db: asyncpg.Connection, drawn: list[tuple[list[Any], bool]]
) -> None:
    example = db.transaction()  # a savepoint: each example starts from an empty ledger
    await example.start()
    try:
        accounts = PLATFORM + await _owners(db)
        payer = next(a.owner_id for a in accounts if a.kind == "payer_receivable")
        assert payer is not None
        made = [await make_claim(db, payer) for _ in range(CLAIMS)]
        expected: dict[AccountRef, int] = defaultdict(int)  # debits - credits
        claims: dict[uuid.UUID, int] = defaultdict(int)
        posted_ids = []
        total_debits = 0
        for n, (raw, repeat) in enumerate(drawn):
            lines = _balanced(raw, accounts, made)
            entry = EntryIn(
                kind="completion",
                idempotency_key=f"property-{n}",
                source_table="therapy_sessions",
                source_id=uuid.uuid4(),
                lines=tuple(lines),
            )
            posted = await ledger.post_entry(db, entry)
            if repeat:  # a redelivered event changes nothing
                assert await ledger.post_entry(db, entry) == posted
            posted_ids.append(posted.id)
            for line in lines:
                signed = line.amount_cents if line.side == "debit" else -line.amount_cents
                expected[line.account] += signed
                total_debits += line.amount_cents if line.side == "debit" else 0
                if line.account.kind == "payer_receivable":
                    assert line.claim_id is not None
                    claims[line.claim_id] += signed
        assert len(set(posted_ids)) == len(drawn)
        # PostgreSQL's own COMMIT-time check, run now inside the test's transaction.
        await db.execute(
            "SET CONSTRAINTS journal_entries_balanced, journal_lines_balanced IMMEDIATE"
        )

        trial = await ledger.get_trial_balance(db)
        assert trial.imbalance_cents == 0
        assert trial.debits_cents == trial.credits_cents == total_debits
        for account, debit_normal in expected.items():
            balance = await ledger.get_account_balance(db, account)
            sign = -1 if account.kind in CREDIT_NORMAL else 1
            assert balance.balance_cents == sign * debit_normal, account
            assert balance.debits_cents - balance.credits_cents == debit_normal
        for claim, owed in claims.items():
            assert await ledger.get_claim_receivable(db, claim) == owed
        for ref in accounts:
            if ref.owner_id is not None:
                found = await ledger.list_owner_balances(db, ref.owner_id)
                assert [(b.kind, b.debits_cents - b.credits_cents) for b in found] == (
                    [(ref.kind, expected[ref])] if ref in expected else []
                )
    finally:
        await example.rollback()
        await db.execute(
            "SET CONSTRAINTS journal_entries_balanced, journal_lines_balanced DEFERRED"
        )
