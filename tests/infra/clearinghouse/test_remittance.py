"""The payers' 835s: every adjudication shape, valid for pyx12 and balanced to the cent.

Claims are those of the 837P fixtures (received on 2026-11-26, `--today`); figures are the
adjudication tests'. Each 835 is fetched over CORE batch from the running simulator, checked by
pyx12's x12valid (005010X221A1) and by a small independent reader (x835_reader.py).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.infra.clearinghouse.conftest import fixture, retrieve, submit
from tests.infra.clearinghouse.x835_reader import (
    NO_RESULTS,
    REQUEST_835,
    RESPONSE_835,
    ClaimPayment,
    Payment,
    balance_errors,
    pyx12_errors,
    read,
)

# Claim JLEE2's add-on line becomes a code Evergreen's fee schedule lacks: denied CO-96 alone.
LINE_DENIAL = ("SV1*HC:90785*30*UN*1***1~\nDTP*472*D8*20261113~\nREF*6R*JLEE2L2",
               "SV1*HC:97810*30*UN*1***1~\nDTP*472*D8*20261113~\nREF*6R*JLEE2L2")  # fmt: skip


async def fetch(ch: httpx.AsyncClient, cursor: str = "0") -> list[str]:
    """Every 835 after `cursor`, following the cursor (ISA13 of the last one) to the end."""
    texts = []
    while True:
        kind, text = await retrieve(ch, REQUEST_835, cursor)
        if kind == NO_RESULTS:
            assert text == ""
            return texts
        assert kind == RESPONSE_835
        texts.append(text)
        cursor = text.split("*")[13]


def checked(texts: list[str]) -> list[Payment]:
    """The payments of files that pass pyx12 and balance."""
    for text in texts:
        assert pyx12_errors(text) == [], text
        assert balance_errors(text) == [], text
    return [payment for text in texts for payment in read(text)]


def claims(payments: list[Payment]) -> dict[str, ClaimPayment]:
    """By CLP01, a reversal under "CLM01/22"."""
    found: dict[str, ClaimPayment] = {}
    for payment in payments:
        for claim in payment.claims:
            key = f"{claim.id}/22" if claim.status == "22" else claim.id
            assert key not in found, f"{key} reported twice"
            found[key] = claim
    return found


def line_cas(claim: ClaimPayment) -> list[list[tuple[str, str, int]]]:
    return [svc.adjustments for svc in claim.services]


@pytest.mark.parametrize(
    "steps",
    [
        ["837_accepted.x12"],
        ["837_denied.x12"],
        ["837_accepted.x12", "837_duplicate.x12"],
        ["837_accepted.x12", "837_corrections.x12"],  # reversals in a later 835
        ["837_accepted.x12+837_corrections.x12"],  # the original and its reversal in one
        ["837_line_denial"],
        ["837_two_sets.x12"],
    ],
)
async def test_every_835_is_valid_and_balances(ch: httpx.AsyncClient, steps: list[str]) -> None:
    texts = []
    for step in steps:
        for name in step.split("+"):
            if name == "837_line_denial":
                await submit(ch, fixture("837_accepted.x12").replace(*LINE_DENIAL))
            else:
                await submit(ch, fixture(name))
        texts += await fetch(ch, texts[-1].split("*")[13] if texts else "0")
    payments = checked(texts)
    assert payments
    claims(payments)  # no claim reported twice
    traces = [payment.first("TRN")[2] for payment in payments]
    assert len(set(traces)) == len(traces)
    assert (await ch.get("/_admin/remittances")).json()["pending"] == []


async def test_paid_and_partly_paid_claims(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    payments = checked(await fetch(ch))
    evergreen = next(p for p in payments if p.first("N1")[2] == "EVERGREEN HEALTH PLAN")
    assert evergreen.first("BPR")[:5] == ["BPR", "I", "707", "C", "ACH"]
    assert evergreen.first("TRN")[3] == "1930000001"  # 1 + the payer's EIN
    assert ["N1", "PE", "HEARTH BEHAVIORAL HEALTH", "XX", "1234567893"] in evergreen.segments
    assert ["REF", "TJ", "123456789"] in evergreen.segments
    found = claims(payments)
    jlee1 = found["JLEE1"]
    assert jlee1.segment == ["CLP", "JLEE1", "1", "200", "110", "30", "12", "EVGRN00000001",
                             "11", "1"]  # fmt: skip
    assert line_cas(jlee1) == [[("CO", "45", 6000), ("PR", "3", 3000)]]
    service = jlee1.services[0]
    assert (service.references, service.allowed) == ({"6R": "JLEE1L1"}, 14000)
    assert jlee1.names["82"][-2:] == ["XX", "1987654328"]
    # Deductible then copay; coinsurance; a dependant named under the subscriber's member id.
    assert line_cas(found["DHAR1"]) == [[("CO", "45", 6000), ("PR", "1", 5000), ("PR", "3", 3000)]]
    assert line_cas(found["CMOR1"]) == [[("CO", "45", 6000), ("PR", "2", 2800)]]
    akim = found["AKIM1"]
    assert akim.amounts == (20000, 0, 15000)
    assert akim.status == "1"
    assert akim.names["QC"][3:5] == ["KIM", "ALEX"]
    assert akim.names["IL"][-1] == "BHI200001"
    blue_harbor = next(p for p in payments if p.first("N1")[2] == "BLUE HARBOR INSURANCE")
    assert blue_harbor.first("BPR")[:5] == ["BPR", "H", "0", "C", "NON"]  # nothing paid


async def test_denials_at_claim_and_line_level(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_denied.x12"))
    found = claims(checked(await fetch(ch)))
    for claim_id, carc in (("JLEE4", "29"), ("NGUY1", "B7"), ("JRIV1", "204")):
        claim = found[claim_id]  # denied as a whole: one claim-level CAS, no service lines
        assert (claim.status, claim.amounts) == ("4", (20000, 0, 0))
        assert (claim.adjustments, claim.services) == ([("CO", carc, 20000)], [])
    assert found["JRIV1"].remarks == ["N130"]
    for claim_id, carc, remark in (("TBRK1", "197", "M62"), ("OKAF1", "185", "N95"),
                                   ("RCHN5", "96", "N130")):  # fmt: skip
        claim = found[claim_id]
        assert claim.status == "4"
        assert claim.adjustments == []
        assert line_cas(claim) == [[("CO", carc, claim.amounts[0])]]
        assert claim.services[0].remarks == [remark]
        assert claim.services[0].allowed == 0


async def test_a_line_denied_inside_a_paid_claim(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12").replace(*LINE_DENIAL))
    jlee2 = claims(checked(await fetch(ch)))["JLEE2"]
    assert (jlee2.status, jlee2.amounts) == ("1", (23000, 11000, 3000))
    assert line_cas(jlee2) == [[("CO", "45", 6000), ("PR", "3", 3000)], [("CO", "96", 3000)]]
    assert jlee2.services[1].remarks == ["N130"]


async def test_a_duplicate_is_denied_co_18(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    first = await fetch(ch)
    await submit(ch, fixture("837_duplicate.x12"))
    duplicate = claims(checked(await fetch(ch, first[-1].split("*")[13])))["JLEE1B"]
    assert duplicate.status == "4"
    assert line_cas(duplicate) == [[("CO", "18", 20000)]]
    assert duplicate.services[0].remarks == ["M86"]


def _negated(claim: ClaimPayment) -> tuple[object, ...]:
    charge, paid, patient = claim.amounts
    cas = [[(group, reason, -amount) for group, reason, amount in svc.adjustments]
           for svc in claim.services]  # fmt: skip
    return (-charge, -paid, -patient), cas, [-(svc.allowed or 0) for svc in claim.services]


async def test_void_and_replacement_reverse_the_original_in_a_later_835(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    first = await fetch(ch)
    paid = claims(checked(first))
    await submit(ch, fixture("837_corrections.x12"))
    later = checked(await fetch(ch, first[-1].split("*")[13]))
    found = claims(later)
    assert [claim.id + "/" + claim.status for claim in later[0].claims] == [
        "JLEE1/22", "JLEE1R/1", "JLEE2/22",
    ]  # fmt: skip
    for claim_id in ("JLEE1", "JLEE2"):
        reversal, original = found[f"{claim_id}/22"], paid[claim_id]
        assert reversal.payer_claim_number == original.payer_claim_number
        assert (reversal.amounts, line_cas(reversal), [s.allowed for s in reversal.services]) == (
            _negated(original)
        )
    assert found["JLEE1R"].amounts == (15000, 7500, 3000)
    assert found["JLEE1R"].payer_claim_number != paid["JLEE1"].payer_claim_number
    # -110 - 125 + 75: more taken back than paid, so the payer defers the recovery (WO).
    assert later[0].first("BPR")[:3] == ["BPR", "H", "0"]
    assert later[0].plb == [("WO", "JLEE1", -11000), ("WO", "JLEE2", -5000)]
    assert "JLEE2V" not in found  # a void is only its original's reversal


async def test_a_held_correction_follows_its_reversal_in_a_later_835(
    ch: httpx.AsyncClient,
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    first = await fetch(ch)
    assert (await ch.post("/_admin/hold", json={"claim_ids": ["JLEE1R"]})).status_code == 200
    await submit(ch, fixture("837_corrections.x12"))
    reversals = await fetch(ch, first[-1].split("*")[13])
    assert list(claims(checked(reversals))) == ["JLEE1/22", "JLEE2/22"]
    assert await fetch(ch, reversals[-1].split("*")[13]) == []  # still held
    assert (await ch.post("/_admin/hold", json={"claim_ids": []})).status_code == 200
    correction = checked(await fetch(ch, reversals[-1].split("*")[13]))
    assert list(claims(correction)) == ["JLEE1R"]
    # The 235.00 deferred is recovered from the correction's 75.00 (WO, positive).
    assert correction[0].plb == [("WO", "JLEE1", 7500)]
    assert correction[0].first("BPR")[:3] == ["BPR", "H", "0"]


async def test_a_later_payment_recovers_what_reversals_took_back(ch: httpx.AsyncClient) -> None:
    others = ["CMOR1", "RCHN1", "DHAR1", "APAT1", "APAT2", "APAT3"]
    assert (await ch.post("/_admin/hold", json={"claim_ids": others})).status_code == 200
    await submit(ch, fixture("837_accepted.x12"))
    first = await fetch(ch)  # JLEE1 110.00 and JLEE2 125.00 paid
    await submit(ch, fixture("837_corrections.x12"))
    second = await fetch(ch, first[-1].split("*")[13])
    deficit = checked(second)[0]  # -110 - 125 + 75: 160.00 deferred
    assert deficit.plb == [("WO", "JLEE1", -11000), ("WO", "JLEE2", -5000)]
    assert (await ch.post("/_admin/hold", json={"claim_ids": []})).status_code == 200
    third = checked(await fetch(ch, second[-1].split("*")[13]))
    assert list(claims(third)) == others
    # The others' 472.00 less the 160.00 recovered (WO, positive, claim by claim).
    assert third[0].plb == [("WO", "JLEE1", 11000), ("WO", "JLEE2", 5000)]
    assert third[0].first("BPR")[:3] == ["BPR", "I", "312"]


async def test_interest_for_a_late_payment(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    run = await ch.post("/_admin/payment-run", json={"day": "2027-01-15"})
    assert run.status_code == 200
    written = run.json()["items"]
    assert [item["payer"] for item in written] == ["EVGRN", "BLHBR", "SMMT1"]
    texts = await fetch(ch)
    assert texts == [item["text"] for item in written]  # served as written
    evergreen = checked(texts)[0]
    # 50 days after receipt, 20 past Evergreen's 30: 12% a year on each claim's payment.
    assert ("L6", "JLEE1", -72) in evergreen.plb  # 110.00 x .12 x 20 / 365 = 0.7233
    assert all(code == "L6" and amount < 0 for code, _, amount in evergreen.plb)
    assert evergreen.first("DTM") == ["DTM", "405", "20270115"]
    interest = -sum(amount for _, _, amount in evergreen.plb)
    assert evergreen.first("BPR")[2] == f"{(70700 + interest) / 100:.2f}".rstrip("0").rstrip(".")


async def test_the_checks_catch_a_file_that_does_not_balance(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    text = (await fetch(ch))[0]
    assert balance_errors(text) == []
    for good, bad, error in (
        ("CLP*JLEE1*1*200*110*30", "CLP*JLEE1*1*200*111*30", "JLEE1 CLP03 - CAS != CLP04"),
        ("CLP*JLEE1*1*200*110*30", "CLP*JLEE1*1*200*110*31", "JLEE1 CLP05 != PR"),
        ("CAS*PR*2*28~", "CAS*PR*2*27~", "CMOR1 SVC"),
        ("BPR*I*707*", "BPR*I*708*", "BPR02 708 != 70700"),
    ):
        assert good in text
        assert any(found.startswith(error) for found in balance_errors(text.replace(good, bad)))
    assert pyx12_errors(text.replace("CLP*JLEE1*1*", "CLP*JLEE1*9*")) != []


async def test_an_original_and_its_reversal_in_one_835(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    await submit(ch, fixture("837_corrections.x12"))  # before any payment run
    evergreen = checked(await fetch(ch))[0]
    order = [f"{claim.id}/{claim.status}" for claim in evergreen.claims]
    assert order[:2] == ["JLEE1/1", "JLEE2/1"]
    assert order[-3:] == ["JLEE1/22", "JLEE1R/1", "JLEE2/22"]
    # 707.00 paid, 235.00 taken back, 75.00 for the correction: no deficit, no PLB.
    assert evergreen.first("BPR")[2] == "547"
    assert evergreen.plb == []


async def test_a_takeback_reverses_a_paid_claim_and_reports_it_denied(
    ch: httpx.AsyncClient,
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    first = await fetch(ch)
    paid = claims(checked(first))["JLEE1"]
    answer = await ch.post("/_admin/takeback", json={"claim_id": "JLEE1", "reason": "50"})
    assert answer.status_code == 200, answer.text
    taken = answer.json()
    assert (taken["original"], taken["taken_back"]) == (paid.payer_claim_number, 11000)
    later = checked(await fetch(ch, first[-1].split("*")[13]))
    found = claims(later)
    assert [f"{claim.id}/{claim.status}" for claim in later[0].claims] == ["JLEE1/22", "JLEE1/4"]
    reversal, denied = found["JLEE1/22"], found["JLEE1"]
    assert (reversal.amounts, line_cas(reversal), [s.allowed for s in reversal.services]) == (
        _negated(paid)
    )
    assert reversal.payer_claim_number == paid.payer_claim_number
    assert denied.payer_claim_number == taken["payer_claim_number"] != paid.payer_claim_number
    assert denied.amounts == (20000, 0, 0)
    assert line_cas(denied) == [[("CO", "50", 20000)]]
    assert [s.allowed for s in denied.services] == [0]
    # Nothing else is paid in that 835: the 110.00 taken back is deferred (WO, negative).
    assert later[0].plb == [("WO", "JLEE1", -11000)]
    assert later[0].first("BPR")[:3] == ["BPR", "H", "0"]
    # Taken back once: the claim no longer stands as paid.
    again = await ch.post("/_admin/takeback", json={"claim_id": "JLEE1"})
    assert again.status_code == 409, again.text


async def test_a_takeback_needs_a_paid_claim(ch: httpx.AsyncClient) -> None:
    unknown = await ch.post("/_admin/takeback", json={"claim_id": "NOSUCH1"})
    assert unknown.status_code == 404
    await submit(ch, fixture("837_accepted.x12"))
    not_yet = await ch.post("/_admin/takeback", json={"claim_id": "JLEE1"})
    assert not_yet.status_code == 409  # adjudicated, not yet reported in an 835
    bad = await ch.post("/_admin/takeback", json={"claim_id": "JLEE1", "reason": "co-50"})
    assert bad.status_code == 400
    await fetch(ch)
    unpaid = await ch.post("/_admin/takeback", json={"claim_id": "AKIM1"})
    assert unpaid.status_code == 409  # Blue Harbor paid nothing on it (the deductible)
