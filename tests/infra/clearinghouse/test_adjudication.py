"""The payers adjudicating accepted claims by their world's rules; the results kept for the 835.

Charges are the platform's ($200 for 90837, $150 for 90834, $30 for 90785); allowed amounts are
each payer's fee schedule in world.json. The batches are received on 2026-11-26 (`--today`).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.infra.clearinghouse.conftest import ask, fixture, results, submit

Adjusted = list[tuple[str, str, int]]


def _adjustments(result: dict[str, Any]) -> list[Adjusted]:
    return [
        [(adj["group"], adj["reason"], adj["amount"]) for adj in line["adjustments"]]
        for line in result["lines"]
    ]


@pytest.mark.parametrize(
    ("claim_id", "paid", "patient", "adjustments"),
    [
        # Copay plan, deductible met: $140 allowed, $30 copay.
        ("JLEE1", 11000, 3000, [[("CO", "45", 6000), ("PR", "3", 3000)]]),
        # Two lines: the copay once per visit; the add-on paid at its own allowed amount.
        ("JLEE2", 12500, 3000, [[("CO", "45", 6000), ("PR", "3", 3000)], [("CO", "45", 1500)]]),
        # 20% coinsurance after the deductible.
        ("CMOR1", 11200, 2800, [[("CO", "45", 6000), ("PR", "2", 2800)]]),
        # Out-of-pocket maximum reached: the plan pays the whole allowed amount.
        ("RCHN1", 14000, 0, [[("CO", "45", 6000)]]),
        # Deductible met partly ($50 left), then the copay on the rest.
        ("DHAR1", 6000, 8000, [[("CO", "45", 6000), ("PR", "1", 5000), ("PR", "3", 3000)]]),
        # Visit limit 20 with 18 used: two more visits paid, the third is the client's.
        ("APAT1", 8000, 2500, [[("CO", "45", 4500), ("PR", "3", 2500)]]),
        ("APAT2", 8000, 2500, [[("CO", "45", 4500), ("PR", "3", 2500)]]),
        ("APAT3", 0, 10500, [[("CO", "45", 4500), ("PR", "119", 10500)]]),
        # A dependant: the smaller of IND ($900) and FAM ($1,200) deductible left covers it all.
        ("AKIM1", 0, 15000, [[("CO", "45", 5000), ("PR", "1", 15000)]]),
        # Prior authorization the payer knows (REF*G1), high deductible.
        ("TBRK2", 0, 13500, [[("CO", "45", 6500), ("PR", "1", 13500)]]),
    ],
)
async def test_adjudication_figures(
    ch: httpx.AsyncClient, claim_id: str, paid: int, patient: int, adjustments: list[Adjusted]
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    result = (await results(ch))[claim_id]
    assert result["status"] == "processed"  # paid 0 with PR only is not a denial
    assert (result["paid"], result["patient_responsibility"]) == (paid, patient)
    assert _adjustments(result) == adjustments
    for line in result["lines"]:
        line_adjustments = sum(adj["amount"] for adj in line["adjustments"])
        assert line["charge"] - line_adjustments == line["paid"]  # SVC02 - CAS = SVC03
    assert result["received"] == "2026-11-26"
    assert result["lines"][0]["control"] == f"{claim_id}L1"  # REF*6R, for the 835's SVC


@pytest.mark.parametrize(
    ("claim_id", "carc"),
    [
        ("TBRK1", "197"),  # prior authorization required, none sent
        ("JRIV1", "204"),  # the plan does not cover mental health in network
        ("JLEE4", "29"),  # 148 days after the service; Evergreen's limit is 90
        ("NGUY1", "B7"),  # credentialed with Evergreen only until 2026-06-30
        ("OKAF1", "185"),  # credentialed, but not for 90791
        ("RCHN5", "96"),  # 97810 is not on Evergreen's fee schedule
    ],
)
async def test_denials(ch: httpx.AsyncClient, claim_id: str, carc: str) -> None:
    await submit(ch, fixture("837_denied.x12"))
    result = (await results(ch))[claim_id]
    assert result["status"] == "denied"
    assert (result["paid"], result["patient_responsibility"]) == (0, 0)
    assert _adjustments(result) == [[("CO", carc, result["charge"])]]
    assert result["payer_claim_number"]  # accepted by the 277CA, then denied


async def test_a_duplicate_is_denied_and_changes_nothing_on_the_original(
    ch: httpx.AsyncClient,
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    before = (await results(ch))["JLEE1"]
    await submit(ch, fixture("837_duplicate.x12"))
    after = await results(ch)
    assert _adjustments(after["JLEE1B"]) == [[("CO", "18", 20000)]]
    assert after["JLEE1"] == before


async def test_replacement_and_void_adjust_the_prior_results(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    await submit(ch, fixture("837_corrections.x12"))
    found = await results(ch)
    replaced, replacement = found["JLEE1"], found["JLEE1R"]
    assert (replaced["state"], replaced["adjusted_by"]) == (
        "replaced",
        replacement["payer_claim_number"],
    )
    assert (replacement["frequency"], replacement["original"]) == ("7", "EVGRN00000001")
    # Adjudicated anew (not a duplicate of the claim it replaces): 90834 at $105 allowed.
    assert _adjustments(replacement) == [[("CO", "45", 4500), ("PR", "3", 3000)]]
    voided, void = found["JLEE2"], found["JLEE2V"]
    assert (voided["state"], voided["adjusted_by"]) == ("voided", void["payer_claim_number"])
    assert (void["status"], void["frequency"], void["original"]) == ("void", "8", "EVGRN00000002")
    assert (void["paid"], void["lines"]) == (0, [])
    assert "XBAD7" not in found  # rejected by the 277CA: never adjudicated


async def test_the_271_sees_what_adjudication_used(ch: httpx.AsyncClient) -> None:
    remaining = "EB*G*IND*MH***29*{}*****Y"
    assert remaining.format(2440) in await ask(ch, "270_jordan_lee.x12")
    await submit(ch, fixture("837_accepted.x12"))  # two $30 copays for Jordan Lee
    assert remaining.format(2380) in await ask(ch, "270_jordan_lee.x12")
    # The replacement takes its original's copay back and adds its own; the void takes its back.
    await submit(ch, fixture("837_corrections.x12"))
    assert remaining.format(2410) in await ask(ch, "270_jordan_lee.x12")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("REF*G1*PA-SMM-0001", "REF*G1*PA-SMM-0404"),  # a number the payer never issued
        (
            "DTP*472*D8*20261119~\nREF*6R*TBRK2L1",
            "DTP*472*D8*20251215~\nREF*6R*TBRK2L1",
        ),  # before its dates
    ],
)
async def test_a_prior_authorization_the_payer_cannot_match_is_denied_197(
    ch: httpx.AsyncClient, old: str, new: str
) -> None:
    text = fixture("837_accepted.x12")
    assert old in text
    await submit(ch, text.replace(old, new))
    assert _adjustments((await results(ch))["TBRK2"]) == [[("CO", "197", 20000)]]
