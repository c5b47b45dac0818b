"""A recoupment is capped by what the denied line earned the provider (claim_lines'
provider_rate_cents), a whole claim's by its lines' rates together (the session's rate), and a
claim's recoupments never by more than the session credited them; the migration's backfill of
the lines' rates (DESIGN.md "Who carries a loss")."""

from __future__ import annotations

import pytest

from services.core.migrations import MIGRATIONS_DIR
from services.remittance.queries.posting import list_provider_figures
from tests.remittance import fixtures as f
from tests.remittance.billed import balance, bill, line_rates, recoupments
from tests.remittance.test_posting import (  # noqa: F401 - ops, payer_id, provider: fixtures
    H_BPR,
    _debit,
    _zero_and_balanced,
    file_of,
    ops,
    ours,
    payer_id,
    post,
    provider,
    remitted,
)

pytestmark = pytest.mark.usefixtures("clock")
TWO_LINES = (("90837", 12000), ("90785", 2000))  # rates 9600 and 1600: the session's 11200

# Both lines denied CO-50 (not medically necessary) for their whole charge.
BOTH_DENIED = """\
CLP*HC0000009A*4*175.5*0*0*12*PCN0000000009*11*1~
SVC*HC:90837*150*0**1~
CAS*CO*50*150~
REF*6R*L0000009A1~
SVC*HC:90785*25.5*0**1~
CAS*CO*50*25.5~
REF*6R*L0000009A2~
"""
# Line 1 paid; line 2 denied by two adjustments the policies both recoup (CO-50, and CO-197
# with no authorization recorded): 10 + 15.50 of its charge, its booked 20 the loss.
TWO_LOSSES_ON_A_LINE = f.UNDERPAID_LINE_DENIED.replace(
    "CAS*CO*50*25.5~", "CAS*CO*50*10~\nCAS*CO*197*15.5~"
)
# UNDERPAID_LINE_DENIED taken back: its reversal, then the claim denied CO-50 under a new payer
# claim number (what the clearinghouse's post-payment review sends).
TAKEN_BACK = """\
CLP*HC0000008A*22*-175.5*-90*-20*12*PCN0000000008*11*1~
SVC*HC:90837*-150*-90**-1~
CAS*CO*45*-40~
CAS*PR*3*-20~
REF*6R*L0000008A1~
SVC*HC:90785*-25.5*0**-1~
CAS*CO*50*-25.5~
REF*6R*L0000008A2~
""" + BOTH_DENIED.replace("HC0000009A", "HC0000008A").replace("L0000009A", "L0000008A").replace(
    "PCN0000000009", "PCN0000000018"
)


async def test_a_whole_claim_denial_recoups_every_lines_rate(db, ops, provider, payer_id):  # noqa: F811
    billed = await bill(db, payer_id, provider, TWO_LINES)
    assert await balance(db, "provider_payable", billed.provider_id) == 11200
    await post(db, ops, file_of(f.transaction(ours(BOTH_DENIED, billed, "9"), bpr=H_BPR)))
    (row,) = await remitted(db, billed)
    assert (row["outcome"], row["loss_cents"]) == ("denied", 14000)
    # Each line gives back its own rate: together the session's, the whole of what it earned.
    assert await recoupments(db, billed.claim_id) == [9600, 1600]
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    assert await balance(db, "claim_losses") == 14000 - 11200
    await _zero_and_balanced(db, billed)


async def test_two_losses_on_one_line_share_its_rate(db, ops, provider, payer_id):  # noqa: F811
    billed = await bill(db, payer_id, provider, TWO_LINES)
    body = f.transaction(ours(TWO_LOSSES_ON_A_LINE, billed, "8"), paid="90")
    await post(db, ops, file_of(body))
    (row,) = await remitted(db, billed)
    assert (row["outcome"], row["loss_cents"], row["contractual_cents"]) == (
        "partially_paid", 2000, 1000,
    )  # fmt: skip
    # CO-50's 10 recouped whole; CO-197's 10 only up to what is left of line 2's rate (6).
    assert await recoupments(db, billed.claim_id) == [1000, 600]
    assert await balance(db, "provider_payable", billed.provider_id) == 11200 - 1600
    assert await balance(db, "claim_losses") == 400
    await _zero_and_balanced(db, billed)


async def test_a_denied_line_then_the_claim_taken_back_recoups_the_session_rate_once(
    db,
    ops,  # noqa: F811
    provider,  # noqa: F811
    payer_id,  # noqa: F811
):
    billed = await bill(db, payer_id, provider, TWO_LINES)
    first = f.transaction(ours(f.UNDERPAID_LINE_DENIED, billed, "8"), paid="90")
    await post(db, ops, file_of(first))
    assert await balance(db, "provider_payable", billed.provider_id) == 11200 - 1600
    body = f.transaction(ours(TAKEN_BACK, billed, "8"), trace="EFT8", bpr=_debit(90))
    await post(db, ops, file_of(body, control=108))
    rows = await remitted(db, billed)
    assert sorted(r["outcome"] for r in rows) == ["denied", "partially_paid", "reversed"]
    # The reversal gave line 2's 16 back; the denial took each line's rate once: the provider
    # gave back what the session earned them, never more.
    assert await recoupments(db, billed.claim_id) == [1600, 9600, 1600]
    assert await balance(db, "provider_payable", billed.provider_id) == 0
    earned, recouped = (await list_provider_figures(db, [billed.claim_id]))[billed.claim_id]
    assert (earned, recouped) == (11200, 11200)
    assert await balance(db, "claim_losses") == 14000 - 11200
    await _zero_and_balanced(db, billed)


async def test_the_migration_splits_each_sessions_rate_across_its_lines(db, provider, payer_id):  # noqa: F811
    """The backfill of lines written before 0055: the session's credited rate, by allowed
    share, largest remainders first, adding up to exactly what the ledger credited."""
    exact = await bill(db, payer_id, provider, TWO_LINES)
    uneven = await bill(db, payer_id, provider, (("90837", 10000), ("90785", 3333)))
    three = await bill(
        db, payer_id, provider, (("90834", 333), ("90785", 333), ("90837", 334)), estimate=100
    )
    claims = [exact.claim_id, uneven.claim_id, three.claim_id]
    await db.execute(
        "UPDATE claim_lines SET provider_rate_cents = 0 WHERE claim_id = ANY ($1::uuid[])", claims
    )
    migration = (MIGRATIONS_DIR / "0055_claim_line_provider_rates.sql").read_text()
    backfill = migration[
        migration.index("UPDATE claim_lines") : migration.index(
            "ALTER TABLE", migration.index("UPDATE")
        )
    ]
    await db.execute(backfill)
    rates = {claim_id: [rate for _, rate in await line_rates(db, claim_id)] for claim_id in claims}
    # 11200 by 12000:2000; 10666 by 10000:3333 (7999.7 and 2666.3: the cent left to line 1);
    # 799 by 333:333:334 (266.07, 266.07, 266.87: the cent left to line 3, not line 1).
    assert rates == {
        exact.claim_id: [9600, 1600],
        uneven.claim_id: [8000, 2666],
        three.claim_id: [266, 266, 267],
    }
    figures = await list_provider_figures(db, claims)
    for claim_id in claims:
        assert sum(rates[claim_id]) == figures[claim_id][0]
