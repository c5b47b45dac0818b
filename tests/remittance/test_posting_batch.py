"""A payment is read once and written in bulk: a CLP still sees what the payment's earlier CLPs
did (a claim paid then reversed and corrected in one payment, a claim paid twice in one)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import balance, bill, claim_status, receivable
from tests.remittance.test_posting import file_of, ours, post, remitted

pytestmark = pytest.mark.usefixtures("clock")


async def test_a_payment_reversing_and_correcting_its_own_claim(db: asyncpg.Connection) -> None:
    ops, provider = await make_ops(db), await make_provider_actor(db)
    billed = await bill(db, (await make_payer(db)).id, provider)
    body = ours(f.PAID, billed) + ours(f.REVERSAL_AND_CORRECTION, billed)
    await post(db, ops, file_of(f.transaction(body, paid="110")))
    rows = await remitted(db, billed)
    paid, reversal, correction = sorted(rows, key=lambda r: r["ordinal"])
    assert (paid["outcome"], reversal["outcome"], correction["outcome"]) == (
        "paid", "reversed", "paid",
    )  # fmt: skip
    assert paid["reversed_by"] == reversal["id"]
    assert reversal["reversal_of"] == paid["id"]
    history = await db.fetch(
        "SELECT from_status, to_status FROM claim_status_history WHERE claim_id = $1 ORDER BY id",
        billed.claim_id,
    )
    assert [tuple(h) for h in history][-3:] == [
        ("accepted", "paid"), ("paid", "reversed"), ("reversed", "paid"),
    ]  # fmt: skip
    assert await claim_status(db, billed.claim_id) == "paid"
    assert await receivable(db, billed.claim_id) == 0
    assert await balance(db, "payer_clearing") == 11000
    assert await balance(db, "client_receivable", billed.client_id) == 1000  # PR-3 now 10
    number = await db.fetchval(
        "SELECT payer_claim_number FROM claim_submissions WHERE clm01 = $1", billed.clm01
    )
    assert number == "PCN0000000011"


async def test_a_claim_paid_twice_in_one_payment_sends_the_second_to_ops(
    db: asyncpg.Connection,
) -> None:
    ops, provider = await make_ops(db), await make_provider_actor(db)
    billed = await bill(db, (await make_payer(db)).id, provider)
    body = ours(f.PAID, billed) * 2
    await post(db, ops, file_of(f.transaction(body, paid="200")))
    outcomes = [
        r["outcome"] for r in sorted(await remitted(db, billed), key=lambda r: r["ordinal"])
    ]
    assert outcomes == ["paid", "ops"]
    assert await balance(db, "unapplied_cash") == 10000
    assert await receivable(db, billed.claim_id) == 0
