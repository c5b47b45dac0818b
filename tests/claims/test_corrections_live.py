"""A replacement (7) and a void (8) through the running clearinghouse simulator: each 837
passes x12valid with its REF*F8, the payer accepts the 7 (a new claim number) and the 8 (the
claim ends `voided`), and each version reaches the payer once."""

from __future__ import annotations

import uuid

import pytest

from schemas.claims import ClaimCorrectionIn, ClaimVoidIn
from services.claims import corrections
from services.claims.submission import submit_claims
from services.core.db import transaction
from tests.claims.test_submission import (
    Stack,
    _adjudicated,
    _fetch_results,
    _history,
    _queue,
    _ready_claim,
    _sent_files,
    clearinghouse,  # noqa: F401 - the simulator, which `stack` needs
    stack,  # noqa: F401 - the fixture
)
from tests.x12tools import x12valid_errors

pytestmark = pytest.mark.usefixtures("clock")


async def _round(stack: Stack) -> str:  # noqa: F811
    """Queue, submit and fetch the acknowledgements; the 837 the round sent."""
    before = len(await _sent_files(stack))
    outbox_id = await _queue(stack)
    assert await submit_claims(stack.pool, stack.clearinghouse, stack.settings, outbox_id) == (
        "1 batch(es) sent"
    )
    assert await _fetch_results(stack) == ["applied"]
    files = await _sent_files(stack)
    assert len(files) == before + 1
    return files[-1]


async def _latest(stack: Stack, claim_id: uuid.UUID) -> tuple[str, str, str | None, str]:  # noqa: F811
    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT s.clm01, s.frequency, s.payer_claim_number, c.status"
            " FROM claim_submissions s JOIN claims c ON c.id = s.claim_id"
            " WHERE s.claim_id = $1 ORDER BY s.version DESC LIMIT 1",
            claim_id,
        )
    assert row is not None
    return row["clm01"], row["frequency"], row["payer_claim_number"], row["status"]


async def test_a_replacement_then_a_void_go_through_the_payer(stack: Stack) -> None:  # noqa: F811
    claim_id = await _ready_claim(stack)
    await _round(stack)
    original, _, first_number, status = await _latest(stack, claim_id)
    assert status == "accepted"
    assert first_number is not None

    async with transaction(stack.pool) as conn:
        data = ClaimCorrectionIn(reason="ops corrected the subscriber's group number")
        await corrections.replace_claim(conn, stack.ops, claim_id, data)
    replacement = await _round(stack)
    assert x12valid_errors(replacement) == []
    clm01, frequency, second_number, status = await _latest(stack, claim_id)
    assert f"CLM*{clm01}*" in replacement
    assert f"*10:B:7*Y*A*Y*Y~REF*F8*{first_number}~" in replacement
    assert original not in replacement  # the latest version only
    assert (frequency, status) == ("7", "accepted")
    assert second_number not in (None, first_number)

    async with transaction(stack.pool) as conn:
        await corrections.void_claim(conn, stack.provider, claim_id, ClaimVoidIn(reason="dup"))
    void = await _round(stack)
    assert x12valid_errors(void) == []
    # The void names the payer's latest number: the replacement replaced the original.
    assert f"*10:B:8*Y*A*Y*Y~REF*F8*{second_number}~" in void
    voided, frequency, _, status = await _latest(stack, claim_id)
    assert (frequency, status) == ("8", "voided")
    assert [(h[0], h[1]) for h in await _history(stack, claim_id)][-4:] == [
        ("accepted", "ready"),
        ("ready", "submitted"),
        ("submitted", "acknowledged"),
        ("acknowledged", "voided"),
    ]
    assert await _adjudicated(stack) == {original: 1, clm01: 1, voided: 1}


async def test_a_rejected_claim_resent_after_ops_fix_the_member_id_is_accepted(
    stack: Stack,  # noqa: F811
) -> None:
    claim_id = await _ready_claim(stack, member_id="EVG999999")
    await _round(stack)
    rejected, _, _, status = await _latest(stack, claim_id)
    assert status == "rejected"
    async with transaction(stack.pool) as conn:
        await conn.execute(
            "UPDATE insurance_policies SET member_id = 'EVG100001'"
            " WHERE id = (SELECT policy_id FROM claims WHERE id = $1)",
            claim_id,
        )
        data = ClaimCorrectionIn(reason="ops corrected the member id")
        await corrections.resend_claim(conn, stack.ops, claim_id, data)
    resent = await _round(stack)
    assert x12valid_errors(resent) == []
    clm01, frequency, number, status = await _latest(stack, claim_id)
    assert "*10:B:1*Y*A*Y*Y~" in resent
    assert "REF*F8" not in resent
    assert (frequency, status) == ("1", "accepted")
    assert number is not None
    assert clm01 != rejected
    assert await _adjudicated(stack) == {clm01: 1}  # the rejected version never got past the door
