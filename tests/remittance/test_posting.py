"""Posting hand-written 835s: each claim's receivable to zero, statuses, reversals, CO-18, PLB,
notifications, unmatched claims, repeated traces and refused files (DESIGN.md "Money")."""

from __future__ import annotations

import asyncpg
import pytest

from services.core.auth import Actor
from services.ledger.service import get_trial_balance
from services.remittance.errors import Refused835
from services.remittance.service import post_file_on
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, balance, bill, claim_status, receivable

pytestmark = pytest.mark.usefixtures("clock")
H_BPR = "BPR*H*0*C*NON************20261204~\n"


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def provider(db: asyncpg.Connection) -> Actor:
    return await make_provider_actor(db)


@pytest.fixture
async def payer_id(db: asyncpg.Connection) -> object:
    return (await make_payer(db)).id


def ours(text: str, billed: Billed, number: str = "1") -> str:
    """A fixture's claim `number` (HC000000{n}A, L000000{n}A1..) renamed to our claim's."""
    text = text.replace(f"HC000000{number}A", billed.clm01)
    for n, control in enumerate(billed.line_controls, start=1):
        text = text.replace(f"L000000{number}A{n}", control)
    return text


def file_of(*bodies: str, control: int = 101) -> bytes:
    return f.interchange(list(bodies), control=control).encode()


async def post(db: asyncpg.Connection, ops: Actor, raw: bytes) -> dict:
    out, _ = await post_file_on(db, raw, "upload", ops)
    return {"status": out.status, "payments": [p.status for p in out.payments], "out": out}


async def remitted(db: asyncpg.Connection, billed: Billed) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM remitted_claims WHERE claim_id = $1 ORDER BY ordinal, id", billed.claim_id
    )


async def _zero_and_balanced(db: asyncpg.Connection, *claims: Billed) -> None:
    for billed in claims:
        assert await receivable(db, billed.claim_id) == 0
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_paid_claim_moves_the_payment_and_ends_at_zero(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    result = await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    assert result["status"] == "posted"
    assert result["payments"] == ["posted"]
    assert await claim_status(db, billed.claim_id) == "paid"
    await _zero_and_balanced(db, billed)
    assert await balance(db, "payer_clearing") == 10000
    assert await balance(db, "client_receivable", billed.client_id) == 2000  # PR-3 = estimate
    assert await balance(db, "contractual_adjustment") == 0  # allowed 120 as booked
    (row,) = await remitted(db, billed)
    assert (row["outcome"], row["paid_cents"], row["patient_adjustments_cents"]) == (
        "paid", 10000, 2000,
    )  # fmt: skip
    adjustments = await db.fetch(
        "SELECT a.carc_group, a.carc_code, a.amount_cents, l.line_control_number, l.line_number"
        " FROM remittance_adjustments a JOIN remitted_lines l ON l.id = a.remitted_line_id"
        " WHERE a.remitted_claim_id = $1 ORDER BY a.id",
        row["id"],
    )
    assert [tuple(a) for a in adjustments] == [
        ("CO", "45", 3000, billed.line_controls[0], 1),
        ("PR", "3", 2000, billed.line_controls[0], 1),
    ]
    number = await db.fetchval(
        "SELECT payer_claim_number FROM claim_submissions WHERE clm01 = $1", billed.clm01
    )
    assert number == "PCN0000000001"


async def test_patient_responsibility_above_the_estimate_moves_to_the_client(
    db, ops, provider, payer_id
):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PARTLY_PAID, billed, "2"), paid="30")))
    assert await claim_status(db, billed.claim_id) == "paid"  # the client owes it: no loss
    assert await balance(db, "client_receivable", billed.client_id) == 9000
    (row,) = await remitted(db, billed)
    assert row["true_up_cents"] == 7000
    assert row["loss_cents"] == 0
    await _zero_and_balanced(db, billed)


async def test_a_denied_line_in_a_paid_claim_is_a_loss_of_that_line(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider, (("90837", 12000), ("90785", 2000)))
    await post(db, ops, file_of(f.transaction(ours(f.LINE_DENIED, billed, "4"))))
    assert await claim_status(db, billed.claim_id) == "partially_paid"
    (row,) = await remitted(db, billed)
    assert (row["loss_cents"], row["contractual_cents"]) == (2000, 0)
    assert await balance(db, "claim_losses") == 2000
    # CO-97 has no recoupment policy: absorbed, and ops are told.
    assert row["needs_ops"]
    assert "CO-97" in row["ops_reason"]
    await _zero_and_balanced(db, billed)


async def test_a_denied_line_never_takes_the_paid_lines_contractual_gap_as_loss(
    db, ops, provider, payer_id
):
    # Booked: 120 for 90837 and 20 for 90785. The payer allowed 110 for 90837 (a gap of 10 to
    # our fee schedule: contractual, never a loss) and denied 90785's whole charge, 25.50, CO-50.
    billed = await bill(db, payer_id, provider, (("90837", 12000), ("90785", 2000)))
    rate = await balance(db, "provider_payable", billed.provider_id)
    body = f.transaction(ours(f.UNDERPAID_LINE_DENIED, billed, "8"), paid="90")
    await post(db, ops, file_of(body))
    (row,) = await remitted(db, billed)
    assert row["outcome"] == "partially_paid"
    # The loss is line 2's part of the claim (its booked 20), not its charge (25.50), which the
    # claim's remainder (10 of line 1's gap + 20) would otherwise have let through.
    assert (row["loss_cents"], row["contractual_cents"], row["true_up_cents"]) == (2000, 1000, 0)
    assert await balance(db, "contractual_adjustment") == 1000
    # CO-50 is the provider's: line 2's loss recouped up to what line 2 earned them (its
    # provider rate, 16 of its booked 20), nothing of line 1's gap nor of line 1's rate. The
    # platform's margin on line 2 (4) stays its own loss, never taken from the provider.
    line_rates = await db.fetch(
        "SELECT provider_rate_cents FROM claim_lines WHERE claim_id = $1 ORDER BY line_number",
        billed.claim_id,
    )
    assert [r["provider_rate_cents"] for r in line_rates] == [9600, 1600]
    recouped = await db.fetchval(
        "SELECT sum(l.amount_cents) FROM journal_entries e"
        " JOIN journal_lines l ON l.entry_id = e.id"
        " WHERE e.kind = 'recoupment' AND l.side = 'debit' AND e.source_id = $1",
        row["id"],
    )
    assert recouped == 1600
    assert await balance(db, "claim_losses") == 400
    assert await balance(db, "provider_payable", billed.provider_id) == rate - 1600
    # PR-3 20 is the client's estimate: no true-up.
    assert await balance(db, "client_receivable", billed.client_id) == billed.estimate
    assert await balance(db, "payer_clearing") == 9000
    await _zero_and_balanced(db, billed)


async def test_a_denial_is_a_loss_the_policy_recoups(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    body = f.transaction(ours(f.DENIED, billed, "6"), bpr=H_BPR)
    await post(db, ops, file_of(body))
    assert await claim_status(db, billed.claim_id) == "denied"
    (row,) = await remitted(db, billed)
    assert (row["outcome"], row["loss_cents"], row["true_up_cents"]) == ("denied", 12000, -2000)
    # CO-50 (not medically necessary) is the provider's: recouped from their payable, at most
    # the rate their session earned them; the platform's margin stays its own loss.
    rate = 9600
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    assert await balance(db, "claim_losses") == 12000 - rate
    # A notification (BPR01 H) moves no cash.
    assert await balance(db, "payer_clearing") == 0
    await _zero_and_balanced(db, billed)


# DENIED's reversal, then its correction denied again (CO-50 once more).
DENIAL_REVERSED_AND_DENIED = """\
CLP*HC0000006A*22*-150*0*0*12*PCN0000000006*11*1~
SVC*HC:90837*-150*0**-1~
CAS*CO*50*-150~
REF*6R*L0000006A1~
""" + f.DENIED.replace("PCN0000000006", "PCN0000000016")


async def test_a_denial_reversed_and_denied_again_recoups_the_session_once(
    db, ops, provider, payer_id
):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.DENIED, billed, "6"), bpr=H_BPR)))
    again = f.transaction(ours(DENIAL_REVERSED_AND_DENIED, billed, "6"), bpr=H_BPR, trace="EFT2")
    await post(db, ops, file_of(again, control=102))
    rows = await remitted(db, billed)
    assert sorted(r["outcome"] for r in rows) == ["denied", "denied", "reversed"]
    # The reversal gave the first recoupment back; the second took the rate once more, no more.
    recouped = await db.fetch(
        "SELECT l.amount_cents FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id"
        " WHERE e.kind = 'recoupment' AND l.side = 'debit' AND e.source_id = ANY ($1::uuid[])",
        [r["id"] for r in rows],
    )
    assert [r["amount_cents"] for r in recouped] == [9600, 9600]
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    assert await balance(db, "claim_losses") == 12000 - 9600
    await _zero_and_balanced(db, billed)


async def test_recoupments_of_one_claim_stop_at_what_its_session_earned(
    db, ops, provider, payer_id
):
    """A part recouped on the first 835; the correction's denial takes only what is left of the
    session's rate once the reversal gave the first part back, never the allowed amount."""
    billed = await bill(db, payer_id, provider)
    part = f.DENIED.replace("*4*150*0*0*", "*1*150*70*0*").replace("150*0**1~", "150*70**1~")
    part = part.replace("CAS*CO*50*150~", "CAS*CO*45*30~\nCAS*CO*50*50~")
    await post(db, ops, file_of(f.transaction(ours(part, billed, "6"), paid="70")))
    assert await balance(db, "provider_payable", billed.provider_id) == 9600 - 5000
    reversal = (
        "CLP*HC0000006A*22*-150*-70*0*12*PCN0000000006*11*1~\nSVC*HC:90837*-150*-70**-1~\n"
        "CAS*CO*45*-30~\nCAS*CO*50*-50~\nREF*6R*L0000006A1~\n"
    ) + f.DENIED.replace("PCN0000000006", "PCN0000000016")
    body = f.transaction(ours(reversal, billed, "6"), trace="EFT3", bpr=_debit(70))
    await post(db, ops, file_of(body, control=103))
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    assert await balance(db, "claim_losses") == 12000 - 9600
    await _zero_and_balanced(db, billed)


def _split_reversal() -> tuple[str, str]:
    reversal, correction = f.REVERSAL_AND_CORRECTION.split("CLP*HC0000001A*1*", 1)
    return reversal, "CLP*HC0000001A*1*" + correction


async def test_a_reversal_and_its_correction_in_one_file(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    second = f.transaction(ours(f.REVERSAL_AND_CORRECTION, billed), paid="10", trace="EFT0002")
    await post(db, ops, file_of(second, control=102))
    rows = await remitted(db, billed)
    first, reversal, correction = sorted(rows, key=lambda r: r["paid_cents"])[1], *(
        r for r in rows if r["status_code"] == "22"
    ), next(r for r in rows if r["paid_cents"] == 11000)  # fmt: skip
    assert first["reversed_by"] == reversal["id"]
    assert reversal["reversal_of"] == first["id"]
    assert correction["outcome"] == "paid"
    assert await claim_status(db, billed.claim_id) == "paid"
    assert await balance(db, "payer_clearing") == 11000
    assert await balance(db, "client_receivable", billed.client_id) == 1000  # PR-3 now 10
    history = await db.fetch(
        "SELECT to_status FROM claim_status_history WHERE claim_id = $1 AND to_status IS NOT NULL"
        " ORDER BY id",
        billed.claim_id,
    )
    assert [h["to_status"] for h in history][-3:] == ["paid", "reversed", "paid"]
    number = await db.fetchval(
        "SELECT payer_claim_number FROM claim_submissions WHERE clm01 = $1", billed.clm01
    )
    assert number == "PCN0000000011"
    await _zero_and_balanced(db, billed)


async def test_a_reversal_negates_the_claim_its_clp01_and_clp07_name(db, ops, provider, payer_id):
    """Two claims whose 835s carried the same CLP07 (payers number claims their own way): the
    reversal repeats its original's CLP01 and CLP07, so it negates that claim's payment, not
    the first one found under the number."""
    first, second = await bill(db, payer_id, provider), await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, first))))
    await post(db, ops, file_of(f.transaction(ours(f.PAID, second), trace="EFT0002"), control=102))
    reversal, _ = _split_reversal()
    reversed_ = f.transaction(ours(reversal, second), trace="EFT0003", bpr=_debit(100))
    await post(db, ops, file_of(reversed_, control=103))
    (kept,) = await remitted(db, first)
    assert (kept["reversed_by"], kept["outcome"]) == (None, "paid")
    original, negation = sorted(await remitted(db, second), key=lambda r: r["paid_cents"])[::-1]
    assert (original["reversed_by"], negation["reversal_of"]) == (negation["id"], original["id"])
    assert await claim_status(db, first.claim_id) == "paid"
    assert await claim_status(db, second.claim_id) == "reversed"
    assert await receivable(db, first.claim_id) == 0
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_correction_in_a_later_file(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    reversal, correction = _split_reversal()
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    reversed_ = f.transaction(ours(reversal, billed), trace="EFT0002", bpr=_debit(100))
    await post(db, ops, file_of(reversed_, control=102))
    assert await claim_status(db, billed.claim_id) == "reversed"
    assert await receivable(db, billed.claim_id) == billed.allowed - billed.estimate
    assert await balance(db, "payer_clearing") == 0
    corrected = f.transaction(ours(correction, billed), paid="110", trace="EFT0003")
    await post(db, ops, file_of(corrected, control=103))
    assert await claim_status(db, billed.claim_id) == "paid"
    assert await balance(db, "payer_clearing") == 11000
    await _zero_and_balanced(db, billed)


def _debit(dollars: int) -> str:
    return f.ACH.format(amount=dollars).replace("*C*ACH*", "*D*ACH*", 1)


async def test_a_co18_duplicate_changes_nothing_on_the_original(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    before = await get_trial_balance(db)
    duplicate = f.DUPLICATE.replace("HC0000003A", billed.clm01)
    await post(db, ops, file_of(f.transaction(duplicate, paid="0", trace="EFT0009"), control=109))
    assert await claim_status(db, billed.claim_id) == "paid"
    assert (await get_trial_balance(db)).accounts == before.accounts
    outcomes = [r["outcome"] for r in await remitted(db, billed)]
    assert sorted(outcomes) == ["duplicate", "paid"]


async def test_an_unmatched_claim_goes_to_unapplied_cash_and_ops(db, ops):
    await post(db, ops, file_of(f.transaction(f.PAID)))
    row = await db.fetchrow(
        "SELECT * FROM remitted_claims WHERE patient_control_number = 'HC0000001A'"
    )
    assert row["outcome"] == "unmatched"
    assert row["claim_id"] is None
    assert row["needs_ops"]
    assert await balance(db, "unapplied_cash") == 10000
    assert await balance(db, "payer_clearing") == 10000


async def test_a_repeated_trace_posts_nothing(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    before = await get_trial_balance(db)
    again = await post(db, ops, file_of(f.transaction(ours(f.PAID, billed)), control=555))
    assert again["status"] == "already_posted"
    assert again["payments"] == ["already_posted"]
    same = await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    assert same["status"] == "already_posted"
    assert (await get_trial_balance(db)).accounts == before.accounts
    assert await db.fetchval("SELECT count(*) FROM remitted_claims") == 1
    assert await db.fetchval("SELECT count(*) FROM remittance_files") == 2


async def test_a_refused_file_posts_nothing(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    good = f.transaction(ours(f.PAID, billed))
    text = f.interchange([good, f.transaction(f.PAID, trace="EFT0002")])
    truncated = text[: text.rindex("GE*")].encode()
    with pytest.raises(Refused835) as refused:
        await post(db, ops, truncated)
    assert refused.value.field == "body"
    assert "segment" in refused.value.detail
    assert await db.fetchval("SELECT count(*) FROM remittance_files") == 0
    assert await claim_status(db, billed.claim_id) == "accepted"
    assert await receivable(db, billed.claim_id) == billed.allowed - billed.estimate


async def test_plb_interest_and_the_claims_they_name(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed), paid="87.75", plb=f.PLBS)))
    assert await balance(db, "interest_income") == 125
    # WO names PCN0000000002 and FB PCN0000000003: no claim of ours; 72 a refund reference.
    assert await balance(db, "unapplied_cash") == -(1000 + 550 - 200)
    assert await balance(db, "payer_clearing") == 8775
    payment = await db.fetchrow("SELECT needs_ops, amount_cents FROM remittance_payments")
    assert payment["needs_ops"]
    assert payment["amount_cents"] == 8775
    await _zero_and_balanced(db, billed)


async def test_forwarded_posts_like_processed_and_notes_the_crossover(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    forwarded = ours(f.PAID, billed).replace(f"CLP*{billed.clm01}*1*", f"CLP*{billed.clm01}*19*")
    await post(db, ops, file_of(f.transaction(forwarded)))
    assert await claim_status(db, billed.claim_id) == "paid"
    reason = await db.fetchval(
        "SELECT reason FROM claim_status_history WHERE claim_id = $1 AND to_status = 'paid'",
        billed.claim_id,
    )
    assert "crossover" in reason
    await _zero_and_balanced(db, billed)


@pytest.mark.parametrize("status", ["23", "25", "99"])
async def test_statuses_no_rule_posts_go_to_ops(db, ops, provider, payer_id, status):
    billed = await bill(db, payer_id, provider)
    held = ours(f.PAID, billed).replace(f"CLP*{billed.clm01}*1*", f"CLP*{billed.clm01}*{status}*")
    await post(db, ops, file_of(f.transaction(held)))
    (row,) = await remitted(db, billed)
    assert row["outcome"] == "ops"
    assert row["needs_ops"]
    assert await claim_status(db, billed.claim_id) == "accepted"
    assert await balance(db, "unapplied_cash") == 10000  # the money waits for ops
    assert await receivable(db, billed.claim_id) == billed.allowed - billed.estimate


async def test_a_second_payment_for_a_paid_claim_goes_to_ops(db, ops, provider, payer_id):
    billed = await bill(db, payer_id, provider)
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed))))
    await post(db, ops, file_of(f.transaction(ours(f.PAID, billed), trace="EFT0002"), control=2))
    assert sorted(r["outcome"] for r in await remitted(db, billed)) == ["ops", "paid"]
    assert await balance(db, "unapplied_cash") == 10000
    await _zero_and_balanced(db, billed)
