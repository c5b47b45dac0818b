"""Every shape of the simulator's 835s posted end to end: claims submitted through the running
clearinghouse, adjudicated and paid by it, its 835s (GET /_admin/remittances) posted; statuses,
each claim's payer_receivable at zero and the trial balance at zero after each posting."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from schemas.claims import ClaimCorrectionIn, ClaimVoidIn
from services.claims import corrections
from services.claims.service import get_claim_detail
from services.core.auth import SYSTEM
from services.core.db import transaction
from services.ledger.service import get_claim_receivable, get_trial_balance
from services.remittance.queries.posting import list_provider_figures
from services.remittance.service import post_file
from tests.claims.test_corrections_live import _round
from tests.claims.test_submission import (
    ONE_LINE,
    SERVICE_DATE,
    Stack,
    _admin,
    _ready_claim,
    clearinghouse,  # noqa: F401 - the simulator, which `stack` needs
    stack,  # noqa: F401 - the fixture
)
from tests.remittance.billed import balance, book_completion, recoupments
from tests.x12tools import x12valid_errors

pytestmark = pytest.mark.usefixtures("clock")
ESTIMATE = 2000


async def _claim(
    stack: Stack,  # noqa: F811
    service_date: date = SERVICE_DATE,
    lines: tuple[tuple[str, list[str], int, int], ...] = ONE_LINE,
) -> uuid.UUID:
    claim_id = await _ready_claim(stack, lines=lines)
    async with transaction(stack.pool) as conn:
        if service_date != SERVICE_DATE:
            await conn.execute(
                "UPDATE claims SET service_date = $2 WHERE id = $1", claim_id, service_date
            )
        claim = (await get_claim_detail(conn, SYSTEM, claim_id)).claim
        await book_completion(conn, claim, ESTIMATE)
    return claim_id


async def _pay(stack: Stack, day: str) -> list[dict[str, Any]]:  # noqa: F811
    """A payment run, then every 835 written so far posted (the earlier ones: already)."""
    await _admin(stack.simulator, "payment-run", {"day": day})
    async with httpx.AsyncClient(timeout=5) as http:
        eras = (await http.get(f"{stack.simulator}/_admin/remittances")).json()["items"]
    out = []
    for era in eras:
        assert x12valid_errors(era["text"]) == []
        posted, _ = await post_file(stack.pool, era["text"].encode(), "clearinghouse", SYSTEM)
        out.append({"trace": era["trace"], "status": posted.status, "claims": era["claims"]})
    async with stack.pool.acquire() as conn:
        assert (await get_trial_balance(conn)).imbalance_cents == 0
    return out


async def _state(stack: Stack, claim_id: uuid.UUID) -> tuple[str, int]:  # noqa: F811
    async with stack.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM claims WHERE id = $1", claim_id)
        return status, await get_claim_receivable(conn, claim_id)


async def _clearing(stack: Stack) -> tuple[int, int]:  # noqa: F811
    """payer_clearing's debits less credits, and Σ signed BPR02 of the payments posted."""
    async with stack.pool.acquire() as conn:
        clearing = await conn.fetchval(
            "SELECT coalesce(sum(CASE side WHEN 'debit' THEN amount_cents"
            " ELSE -amount_cents END), 0) FROM journal_lines l"
            " JOIN ledger_accounts a ON a.id = l.account_id WHERE a.kind = 'payer_clearing'"
        )
        paid = await conn.fetchval("SELECT coalesce(sum(amount_cents), 0) FROM remittance_payments")
    return clearing, paid


async def test_paid_denied_replaced_voided_and_recovered(stack: Stack) -> None:  # noqa: F811
    paid = await _claim(stack)
    late = await _claim(stack, SERVICE_DATE - timedelta(days=800))  # past the filing limit
    await _round(stack)
    first = await _pay(stack, "2026-12-01")
    assert [p["status"] for p in first] == ["posted"]
    assert await _state(stack, paid) == ("paid", 0)
    assert await _state(stack, late) == ("denied", 0)
    async with stack.pool.acquire() as conn:
        denial = await conn.fetchrow(
            "SELECT outcome, loss_cents, needs_ops, ops_reason FROM remitted_claims"
            " WHERE claim_id = $1",
            late,
        )
    # CO-29 recoups only when the session was confirmed late: this claim's session was never
    # confirmed (the test writes the claim itself), so the fact is unknown and ops are told.
    assert denial["outcome"] == "denied"
    assert denial["loss_cents"] == 15000
    assert denial["needs_ops"]

    # A replacement: the payer reverses the original and pays the corrected claim.
    async with transaction(stack.pool) as conn:
        data = ClaimCorrectionIn(reason="ops corrected the subscriber's group number")
        await corrections.replace_claim(conn, stack.ops, paid, data)
    await _round(stack)
    second = await _pay(stack, "2026-12-08")
    assert [p["status"] for p in second] == ["already_posted", "posted"]
    assert await _state(stack, paid) == ("paid", 0)
    async with stack.pool.acquire() as conn:
        outcomes = await conn.fetch(
            "SELECT outcome, reversed_by IS NOT NULL AS reversed FROM remitted_claims"
            " WHERE claim_id = $1",
            paid,
        )
    assert sorted((o["outcome"], o["reversed"]) for o in outcomes) == [
        ("paid", False), ("paid", True), ("reversed", False),
    ]  # fmt: skip

    # A void: only the reversal, deferred by a WO (BPR02 0) and recovered from the next payment.
    async with transaction(stack.pool) as conn:
        await corrections.void_claim(conn, stack.ops, paid, ClaimVoidIn(reason="dup"))
    await _round(stack)
    third = await _pay(stack, "2026-12-15")
    assert third[-1]["status"] == "posted"
    status, owed = await _state(stack, paid)
    assert status == "voided"
    assert owed < 0  # the payer will recover what it paid: the WO named this claim
    later = await _claim(stack, SERVICE_DATE + timedelta(days=1))
    await _round(stack)
    await _pay(stack, "2026-12-22")
    assert await _state(stack, paid) == ("voided", 0)
    assert await _state(stack, later) == ("paid", 0)
    clearing, payments = await _clearing(stack)
    assert clearing == payments


async def _latest_clm01(stack: Stack, claim_id: uuid.UUID) -> str:  # noqa: F811
    async with stack.pool.acquire() as conn:
        found: str = await conn.fetchval(
            "SELECT clm01 FROM claim_submissions WHERE claim_id = $1 ORDER BY version DESC LIMIT 1",
            claim_id,
        )
    return found


async def test_interest_paid_late_and_a_correction_held_to_a_later_835(stack: Stack) -> None:  # noqa: F811
    claim_id = await _claim(stack)
    await _round(stack)
    await _pay(stack, "2027-03-01")  # long past the payer's prompt-pay days: L6 interest
    assert await _state(stack, claim_id) == ("paid", 0)
    async with stack.pool.acquire() as conn:
        interest = await conn.fetchval(
            "SELECT count(*) FROM remittance_provider_adjustments WHERE reason = 'L6'"
        )
        income = await conn.fetchval(
            "SELECT coalesce(sum(amount_cents), 0) FROM journal_lines l JOIN ledger_accounts a"
            " ON a.id = l.account_id WHERE a.kind = 'interest_income' AND l.side = 'credit'"
        )
    assert interest == 1
    assert income > 0

    async with transaction(stack.pool) as conn:
        data = ClaimCorrectionIn(reason="ops corrected the subscriber's group number")
        await corrections.replace_claim(conn, stack.ops, claim_id, data)
    await _admin(stack.simulator, "hold", {"claim_ids": [await _latest_clm01(stack, claim_id)]})
    await _round(stack)
    await _pay(stack, "2027-03-08")  # the reversal alone
    status, owed = await _state(stack, claim_id)
    assert status == "reversed"
    assert owed != 0  # back to what the payer owes, less the WO the reversal deferred
    await _admin(stack.simulator, "hold", {"claim_ids": []})
    await _pay(stack, "2027-03-15")  # the correction, and the WO recovered
    assert await _state(stack, claim_id) == ("paid", 0)
    clearing, payments = await _clearing(stack)
    assert clearing == payments


# A rendering provider Evergreen credentialed for 90832, 90834, 90837 and 90785 only (world.json).
NARROW_NPI = "1333333338"


async def _recoupments(stack: Stack, claim_id: uuid.UUID) -> tuple[list[int], tuple[int, int]]:  # noqa: F811
    """The claim's recoupments in posting order, and (earned, recouped) from the ledger."""
    async with stack.pool.acquire() as conn:
        figures = await list_provider_figures(conn, [claim_id])
        return await recoupments(conn, claim_id), figures[claim_id]


async def test_a_denied_line_then_a_takeback_recoups_the_sessions_rate_once(stack: Stack) -> None:  # noqa: F811
    """The payer denies one line (CO-185: a code the provider may not bill there), pays the
    other, then takes the claim back (POST /_admin/takeback, CO-50): the reversal gives the
    line's recoupment back and the denial takes each line's rate once, the session's in all."""
    async with transaction(stack.pool) as conn:
        await conn.execute(
            "UPDATE providers SET npi = $2 WHERE id = $1", stack.provider.provider_id, NARROW_NPI
        )
        # Ops made CO-185 the provider's to carry whatever their licence (audited in the API).
        await conn.execute(
            "UPDATE recoupment_policies SET decision = 'recoup', condition = NULL"
            " WHERE carc_group = 'CO' AND carc_code = '185'"
        )
    lines = (("90837", ["95"], 14000, 11000), ("90791", ["95"], 16000, 12000))
    claim_id = await _claim(stack, lines=lines)
    await _round(stack)
    await _pay(stack, "2026-12-01")
    assert await _state(stack, claim_id) == ("partially_paid", 0)
    # 90791's loss is its booked 160; the provider gives back its rate, 120, no more.
    assert await _recoupments(stack, claim_id) == ([12000], (23000, 12000))

    clm01 = await _latest_clm01(stack, claim_id)
    taken = await _admin(stack.simulator, "takeback", {"claim_id": clm01, "reason": "50"})
    assert taken["taken_back"] == 11000  # what Evergreen paid on 90837
    await _pay(stack, "2026-12-08")
    status, _ = await _state(stack, claim_id)
    assert status == "denied"
    # The reversal gave the 120 back; the denial took 110 and 120, the lines' rates: the
    # provider gave back what the session earned them (230), never more.
    assert await _recoupments(stack, claim_id) == ([12000, 11000, 12000], (23000, 23000))
    async with stack.pool.acquire() as conn:
        assert await balance(conn, "provider_payable", stack.provider.provider_id) == 0
