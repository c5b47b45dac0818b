"""The client true-up an 835 makes: ready (PR-1/2/3) or ops_review (other PR reasons), ops'
confirm and refuse, denials, reversals netted with their corrections, re-imports, and the
settle_true_up job (DESIGN.md "Denial", "Charging clients", "Money")."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from services.core import clock
from services.core.auth import Actor
from services.ledger.service import get_trial_balance
from services.payments.true_ups import settle_true_up_on
from services.remittance.errors import TrueUpNotInReview
from services.remittance.queries.corrections import count_awaiting_correction
from services.remittance.true_up_ops import decide_true_up
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import Billed, balance, bill, receivable

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
async def billed(db: asyncpg.Connection) -> Billed:
    payer = await make_payer(db)
    return await bill(db, payer.id, await make_provider_actor(db))


async def _balanced(db: asyncpg.Connection, billed: Billed) -> None:
    assert await receivable(db, billed.claim_id) == 0
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def _settle_all(db: asyncpg.Connection) -> list[str]:
    return [await settle_true_up_on(db, row["id"]) for row in await t.settle_rows(db)]


async def test_a_deductible_above_the_estimate_is_ready_with_its_outbox_row(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    (row,) = await t.true_ups(db, billed)
    assert (row["kind"], row["status"]) == ("adjudication", "ready")
    assert (row["estimate_cents"], row["share_cents"], row["delta_cents"]) == (2000, 9000, 7000)
    assert (row["amount_cents"], row["review_cents"], row["client_id"]) == (
        7000, 0, billed.client_id,
    )  # fmt: skip
    assert row["ready_at"] is not None
    assert "deductible $80.00, coinsurance $10.00" in row["reason"]
    assert "the client owes $70.00 more" in row["reason"]
    (queued,) = await t.settle_rows(db)
    assert queued["payload"] == {"true_up_id": str(row["id"])}
    assert queued["dedupe_key"] == f"settle-true-up-{row['id']}"
    remitted = await db.fetchrow(
        "SELECT estimated_share_cents, estimate_error_cents, true_up_cents FROM remitted_claims"
        " WHERE claim_id = $1",
        billed.claim_id,
    )
    assert tuple(remitted) == (2000, 7000, 7000)
    assert await balance(db, "client_receivable", billed.client_id) == 9000
    await _balanced(db, billed)


async def test_a_share_equal_to_the_estimate_makes_no_true_up(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PAID, billed, "1")))
    assert await t.true_ups(db, billed) == []
    assert await t.settle_rows(db) == []
    error = await db.fetchval(
        "SELECT estimate_error_cents FROM remitted_claims WHERE claim_id = $1", billed.claim_id
    )
    assert error == 0


async def test_a_denial_after_an_estimate_credits_the_whole_estimate(db, ops, billed):
    body = f.transaction(t.ours(f.DENIED, billed, "6"), bpr="BPR*H*0*C*NON************20261204~\n")
    await t.post(db, ops, body)
    (row,) = await t.true_ups(db, billed)
    assert (row["status"], row["share_cents"], row["amount_cents"]) == ("ready", 0, -2000)
    assert "the client is owed $20.00 back" in row["reason"]
    assert await _settle_all(db) == ["credit"]
    settled = (await t.true_ups(db, billed))[0]
    assert settled["status"] == "credit"
    assert settled["settled_at"] is not None
    assert await balance(db, "client_receivable", billed.client_id) == 0
    await _balanced(db, billed)


async def test_other_patient_responsibility_waits_for_ops_and_a_confirm_makes_it_ready(
    db, ops, billed
):
    await t.post(db, ops, f.transaction(t.ours(t.OTHER_PR, billed, "8"), paid="70"))
    (row,) = await t.true_ups(db, billed)
    assert (row["status"], row["delta_cents"], row["review_cents"]) == ("ops_review", 3000, 3000)
    assert "ops confirm it" in row["reason"]
    assert await t.settle_rows(db) == []  # nothing is charged before ops decide
    decided = await decide_true_up(db, ops, row["id"], "confirmed", "the plan ended on the 1st")
    assert (decided.status, decided.decision, decided.amount_cents) == ("ready", "confirmed", 3000)
    assert decided.decided_by == ops.user_id
    assert len(await t.settle_rows(db)) == 1
    assert await _settle_all(db) == ["balance_due"]
    assert await balance(db, "client_receivable", billed.client_id) == 5000
    with pytest.raises(TrueUpNotInReview):
        await decide_true_up(db, ops, row["id"], "refused", "too late")
    await _balanced(db, billed)


async def test_a_refusal_the_platform_carries_closes_what_is_left_at_zero(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(t.OTHER_PR, billed, "8"), paid="70"))
    (row,) = await t.true_ups(db, billed)
    decided = await decide_true_up(db, ops, row["id"], "refused", "coverage was confirmed")
    assert (decided.status, decided.carried_cents, decided.amount_cents) == ("closed", 3000, 0)
    assert decided.closed_at is not None
    assert await t.settle_rows(db) == []
    # PR-3 $20 (the estimate) stays the client's; PR-27 $30 is the platform's loss.
    assert await balance(db, "client_receivable", billed.client_id) == 2000
    assert await balance(db, "claim_losses") == 3000
    entry = await db.fetchrow(
        "SELECT kind, source_table FROM journal_entries WHERE idempotency_key = $1",
        f"true-up-{row['id']}-refused",
    )
    assert tuple(entry) == ("true_up_carried", "client_true_ups")
    await _balanced(db, billed)


async def test_a_refusal_leaves_the_rest_ready(db, ops, billed):
    body = f.transaction(t.ours(t.DEDUCTIBLE_AND_OTHER_PR, billed, "8"), paid="40")
    await t.post(db, ops, body)
    (row,) = await t.true_ups(db, billed)
    assert (row["delta_cents"], row["review_cents"]) == (6000, 3000)
    decided = await decide_true_up(db, ops, row["id"], "refused", "not the client's")
    assert (decided.status, decided.amount_cents) == ("ready", 3000)
    assert await _settle_all(db) == ["balance_due"]
    assert await balance(db, "client_receivable", billed.client_id) == 5000  # 20 + 50 - 20
    assert await balance(db, "claim_losses") == 3000
    await _balanced(db, billed)


async def test_a_reversal_and_its_correction_in_one_835_charge_only_the_net(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    assert await _settle_all(db) == ["balance_due"]  # the client owed $70 more
    both = t.ours(t.REVERSAL_OF_PARTLY_PAID + t.CORRECTION_OF_PARTLY_PAID, billed, "2")
    await t.post(db, ops, f.transaction(both, paid="80", trace="EFT0002"), control=102)
    original, reversal, correction = await _three(db, billed)
    assert (reversal["kind"], reversal["reverses_id"]) == ("reversal", original["id"])
    assert (reversal["delta_cents"], reversal["status"]) == (-7000, "closed")
    assert reversal["netted_into_id"] == correction["id"]
    # The correction's own share ($10 copay) is $10 under the estimate; with the reversal's
    # -$70 the client is owed $80 back, in one settlement.
    assert (correction["delta_cents"], correction["netted_cents"]) == (-1000, -7000)
    assert (correction["amount_cents"], correction["status"]) == (-8000, "ready")
    assert await _settle_all(db) == ["credit"]
    assert await balance(db, "client_receivable", billed.client_id) == 1000
    await _balanced(db, billed)


async def test_a_payment_that_adjudicates_reverses_and_corrects_nets_in_file_order(db, ops, billed):
    # The original's row is written with the payment's others, yet the reversal later in the
    # same payment negates it and the correction after that nets the reversal.
    clps = f.PARTLY_PAID + t.REVERSAL_OF_PARTLY_PAID + t.CORRECTION_OF_PARTLY_PAID
    await t.post(db, ops, f.transaction(t.ours(clps, billed, "2"), paid="110"))
    original, reversal, correction = await _three(db, billed)
    assert (original["delta_cents"], original["status"]) == (7000, "ready")
    assert (reversal["delta_cents"], reversal["status"]) == (-7000, "closed")
    assert reversal["netted_into_id"] == correction["id"]
    assert (correction["netted_cents"], correction["amount_cents"]) == (-7000, -8000)
    settle = [row["payload"]["true_up_id"] for row in await t.settle_rows(db)]
    assert settle == [str(original["id"]), str(correction["id"])]  # in file order
    assert await _settle_all(db) == ["balance_due", "credit"]
    assert await balance(db, "client_receivable", billed.client_id) == 1000
    await _balanced(db, billed)


async def test_a_correction_in_a_later_835_nets_the_waiting_reversal(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    await _settle_all(db)
    reversal_only = t.ours(t.REVERSAL_OF_PARTLY_PAID, billed, "2")
    await t.post(db, ops, f.transaction(reversal_only, trace="EFT0002", bpr=t.debit(30)),
                 control=102)  # fmt: skip
    waiting = (await t.true_ups(db, billed))[-1]
    assert (waiting["status"], waiting["amount_cents"]) == ("awaiting_correction", -7000)
    assert await t.settle_rows(db) == []  # no refund before the correction says the net
    correction = t.ours(t.CORRECTION_OF_PARTLY_PAID, billed, "2")
    await t.post(db, ops, f.transaction(correction, paid="110", trace="EFT0003"), control=103)
    _, reversal, corrected = await _three(db, billed)
    assert (reversal["status"], reversal["netted_into_id"]) == ("closed", corrected["id"])
    assert (corrected["amount_cents"], corrected["status"]) == (-8000, "ready")
    assert await _settle_all(db) == ["credit"]
    await _balanced(db, billed)


async def test_a_correction_equal_to_the_original_nets_to_nothing(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    await _settle_all(db)
    same = (
        t.CORRECTION_OF_PARTLY_PAID.replace("*150*110*10*", "*150*30*90*")
        .replace("SVC*HC:90834*150*110**1~", "SVC*HC:90834*150*30**1~")
        .replace("CAS*PR*3*10~", "CAS*PR*1*80*1*2*10~")
    )
    both = t.ours(t.REVERSAL_OF_PARTLY_PAID + same, billed, "2")
    notice = "BPR*H*0*C*NON************20261204~\n"  # the payment nets to 0
    await t.post(db, ops, f.transaction(both, trace="EFT0002", bpr=notice), control=102)
    _, reversal, correction = await _three(db, billed)
    assert (correction["delta_cents"], correction["amount_cents"]) == (7000, 0)
    assert (correction["status"], reversal["status"]) == ("closed", "closed")
    assert await t.settle_rows(db) == []
    await _balanced(db, billed)


async def test_a_reversal_before_ops_decide_closes_the_review_and_uncharges_nothing(
    db, ops, billed
):
    await t.post(db, ops, f.transaction(t.ours(t.OTHER_PR, billed, "8"), paid="70"))
    reversal = t.ours(t.reversal_of(t.OTHER_PR), billed, "8")
    await t.post(db, ops, f.transaction(reversal, trace="EFT0002", bpr=t.debit(70)), control=102)
    (original,) = await t.true_ups(db, billed)
    assert original["status"] == "closed"
    assert "reversed it before ops decided" in original["reason"]
    with pytest.raises(TrueUpNotInReview):
        await decide_true_up(db, ops, original["id"], "confirmed", "late")
    assert await balance(db, "client_receivable", billed.client_id) == 2000  # the estimate
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_reversal_of_a_refused_true_up_takes_the_carried_part_back(db, ops, billed):
    body = f.transaction(t.ours(t.DEDUCTIBLE_AND_OTHER_PR, billed, "8"), paid="40")
    await t.post(db, ops, body)
    (row,) = await t.true_ups(db, billed)
    await decide_true_up(db, ops, row["id"], "refused", "not the client's")
    await _settle_all(db)
    reversal = t.ours(t.reversal_of(t.DEDUCTIBLE_AND_OTHER_PR), billed, "8")
    await t.post(db, ops, f.transaction(reversal, trace="EFT0002", bpr=t.debit(40)), control=102)
    waiting = (await t.true_ups(db, billed))[-1]
    # The client was made to owe $30 more (the $60 difference less the $30 carried).
    assert (waiting["kind"], waiting["amount_cents"]) == ("reversal", -3000)
    assert await balance(db, "claim_losses") == 0
    assert await balance(db, "client_receivable", billed.client_id) == 2000
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def _voided(db: asyncpg.Connection, billed: Billed) -> None:
    """As the payer's 277CA accepting our void (frequency 8) leaves the claim."""
    await db.execute("UPDATE claims SET status = 'voided' WHERE id = $1", billed.claim_id)


async def _awaiting(db: asyncpg.Connection) -> int:
    return await count_awaiting_correction(db, clock.now() + timedelta(days=365), 0)


async def test_a_voided_claims_adjudication_and_reversal_in_one_835_cancel(db, ops, billed):
    await _voided(db, billed)
    clps = f.PARTLY_PAID + t.REVERSAL_OF_PARTLY_PAID
    await t.post(db, ops, f.transaction(t.ours(clps, billed, "2"), paid="0"))
    original, reversal = await t.true_ups(db, billed)
    assert (original["kind"], original["delta_cents"]) == ("adjudication", 7000)
    # No correction follows a void: the reversal is final and cancels the unsettled original.
    assert (original["status"], original["netted_into_id"]) == ("closed", reversal["id"])
    assert (reversal["delta_cents"], reversal["netted_cents"]) == (-7000, 7000)
    assert (reversal["status"], reversal["amount_cents"]) == ("closed", 0)
    assert "no correction follows" in reversal["reason"]
    assert await t.settle_rows(db) == []  # nothing is charged
    assert await _settle_all(db) == []
    assert await _awaiting(db) == 0  # nor does ops wait for a correction
    assert await balance(db, "client_receivable", billed.client_id) == 2000  # the estimate
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_voided_claims_reversal_after_its_true_up_settled_takes_it_back(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    assert await _settle_all(db) == ["balance_due"]  # the client owed $70 more (no card)
    await _voided(db, billed)
    reversal_only = t.ours(t.REVERSAL_OF_PARTLY_PAID, billed, "2")
    await t.post(db, ops, f.transaction(reversal_only, trace="EFT0002", bpr=t.debit(30)),
                 control=102)  # fmt: skip
    original, reversal = await t.true_ups(db, billed)
    assert original["status"] == "balance_due"
    assert (reversal["status"], reversal["amount_cents"]) == ("ready", -7000)
    assert await _awaiting(db) == 0
    # The $70 taken off the true-up's own balance due: the client owes it no more.
    assert await _settle_all(db) == ["balance reduced (refunded)"]
    charge = await db.fetchrow(
        "SELECT id, amount_cents FROM client_charges WHERE source_id = $1", original["id"]
    )
    applied = await db.fetchval(
        "SELECT sum(amount_cents) FROM client_refunds WHERE charge_id = $1 AND status = 'applied'",
        charge["id"],
    )
    assert applied == charge["amount_cents"] == 7000
    assert (await t.true_ups(db, billed))[1]["status"] == "refunded"
    assert await balance(db, "client_receivable", billed.client_id) == 2000
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_reversal_of_a_claim_not_voided_still_waits_for_its_correction(db, ops, billed):
    clps = f.PARTLY_PAID + t.REVERSAL_OF_PARTLY_PAID
    await t.post(db, ops, f.transaction(t.ours(clps, billed, "2"), paid="0"))
    original, reversal = await t.true_ups(db, billed)
    assert (original["status"], reversal["status"]) == ("ready", "awaiting_correction")
    assert await _awaiting(db) == 1


async def test_importing_the_same_file_again_changes_nothing(db, ops, billed):
    body = f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30")
    await t.post(db, ops, body)
    before = (await t.true_ups(db, billed), await t.settle_rows(db))
    again = await t.post(db, ops, body)
    assert again.status == "already_posted"
    # The same payment (its trace) in another file is skipped as well.
    await t.post(db, ops, body, control=555)
    assert (await t.true_ups(db, billed), await t.settle_rows(db)) == before


async def test_the_settle_job_run_twice_changes_nothing_the_second_time(db, ops, billed):
    await t.post(db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    (queued,) = await t.settle_rows(db)
    assert await settle_true_up_on(db, queued["id"]) == "balance_due"
    first = await t.true_ups(db, billed)
    completed = await db.fetchval("SELECT completed_at FROM outbox WHERE id = $1", queued["id"])
    assert completed is not None
    assert await settle_true_up_on(db, queued["id"]) == "done before"
    assert await t.true_ups(db, billed) == first
    assert first[0]["status"] == "balance_due"


async def _three(db: asyncpg.Connection, billed: Billed) -> tuple[dict, dict, dict]:
    """The original's, the reversal's and the correction's true-ups."""
    rows = await t.true_ups(db, billed)
    reversal = next(r for r in rows if r["kind"] == "reversal")
    original = next(r for r in rows if r["id"] == reversal["reverses_id"])
    (correction,) = [r for r in rows if r["kind"] == "adjudication" and r is not original]
    return original, reversal, correction
