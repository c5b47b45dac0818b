"""The payers' acknowledgements of an 837P: TA1, 999 per transaction set, 277CA per claim.

Every file the simulator answers with passes pyx12's x12valid, and so does every 837P fixture.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.infra.clearinghouse.conftest import (
    FIXTURES,
    RETRIEVE_277,
    RETRIEVE_999,
    fixture,
    results,
    retrieve,
    segments,
    submit,
    x12valid,
)


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("837_*.x12")))
def test_every_837_fixture_is_valid(name: str, tmp_path: Path) -> None:
    x12valid(fixture(name), tmp_path, name)


async def _files(ch: httpx.AsyncClient, text: str) -> tuple[tuple[str, str], tuple[str, str]]:
    payload_id = await submit(ch, text)
    return await retrieve(ch, RETRIEVE_999, payload_id), await retrieve(
        ch, RETRIEVE_277, payload_id
    )


def _claim_loops(x12: str) -> dict[str, list[str]]:
    """2000D patient loops of a 277CA by TRN02 (CLM01): HL*..*PT up to the next HL."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for seg in segments(x12):
        if seg.startswith("HL*"):
            current = [] if seg.endswith("*PT") else None
        if current is not None:
            current.append(seg)
            if seg.startswith("TRN*2*"):
                found[seg.removeprefix("TRN*2*")] = current
    return found


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("IEA*1*000000501", "IEA*1*000000599", "001"),  # control numbers differ
        ("IEA*1*000000501", "IEA*2*000000501", "021"),  # group count wrong
        ("*ZZ*HEARTHCH       *", "*ZZ*SOMEONEELSE    *", "008"),  # not our receiver id
        ("*ZZ*HEARTH         *", "*ZZ*INTRUDER       *", "006"),  # not the CORE SenderID
    ],
)
async def test_an_interchange_error_gets_a_ta1_and_no_999(
    ch: httpx.AsyncClient, tmp_path: Path, old: str, new: str, code: str
) -> None:
    text = fixture("837_accepted.x12").replace(old, new)
    (kind, ta1), (kind_277, claims) = await _files(ch, text)
    assert kind == "X12_TA1_Response_00501X231A1"
    assert f"TA1*000000501*261126*1030*R*{code}" in segments(ta1)
    assert "ST*999" not in ta1
    assert (kind_277, claims) == ("X12_NoBatchResultsFile", "")
    assert await results(ch) == {}
    x12valid(ta1, tmp_path)


async def test_999_accepts_a_good_set(ch: httpx.AsyncClient, tmp_path: Path) -> None:
    (kind, ack), _ = await _files(ch, fixture("837_accepted.x12"))
    assert kind == "X12_999_Response_005010X231A1"
    segs = segments(ack)
    assert segs[1].startswith("GS*FA*HEARTHCH*HEARTH*")
    assert segs[3:7] == ["AK1*HC*501*005010X222A1", "AK2*837*0001*005010X222A1", "IK5*A",
                         "AK9*A*1*1*1"]  # fmt: skip
    x12valid(ack, tmp_path)


async def test_999_rejects_a_set_whose_claim_does_not_add_up(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    (_, ack), (_, claims) = await _files(ch, fixture("837_two_sets.x12"))
    segs = segments(ack)
    start = segs.index("AK2*837*0002*005010X222A1")
    assert segs[start : start + 5] == [
        "AK2*837*0002*005010X222A1", "IK3*CLM*19*2300*8", "CTX*CLM01:CMOR3",
        "IK4*2*782*I12*250", "IK5*R*5",
    ]  # fmt: skip
    assert segs[segs.index("AK2*837*0001*005010X222A1") + 1] == "IK5*A"
    assert "AK9*P*2*2*1" in segs
    # Only the accepted set's claim reaches the payer.
    assert set(_claim_loops(claims)) == {"CMOR2"}
    assert set(await results(ch)) == {"CMOR2"}
    x12valid(ack, tmp_path, "999.x12")
    x12valid(claims, tmp_path, "277.x12")


async def test_999_rejects_a_set_with_a_wrong_segment_count(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = fixture("837_duplicate.x12")
    text = re.sub(r"SE\*\d+\*0001~", "SE*99*0001~", text)
    (_, ack), (kind_277, _) = await _files(ch, text)
    segs = segments(ack)
    assert "IK5*R*4" in segs
    assert "AK9*R*1*1*0" in segs
    assert kind_277 == "X12_NoBatchResultsFile"
    assert await results(ch) == {}
    x12valid(ack, tmp_path)


async def test_277ca_accepts_with_a_payer_claim_number(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    _, (_, claims) = await _files(ch, fixture("837_accepted.x12"))
    segs = segments(claims)
    assert segs[3].startswith("BHT*0085*08*")
    payers = [seg for seg in segs if seg.startswith("NM1*PR*2*")]
    assert payers == ["NM1*PR*2*Evergreen Health Plan*****PI*EVGRN",
                      "NM1*PR*2*Blue Harbor Insurance*****PI*BLHBR",
                      "NM1*PR*2*Summit Mutual*****PI*SMMT1"]  # fmt: skip
    loops = _claim_loops(claims)
    assert loops["JLEE1"] == [
        "HL*4*3*PT", "NM1*QC*1*LEE*JORDAN****MI*EVG100001", "TRN*2*JLEE1",
        "STC*A2:20*20261126*WQ*200", "REF*1K*EVGRN00000001", "DTP*472*D8*20261120",
    ]  # fmt: skip
    # A dependant is named in 2100D with the subscriber's member id.
    assert loops["AKIM1"][1] == "NM1*QC*1*KIM*ALEX****MI*BHI200001"
    assert "REF*1K*BLHBR00000001" in loops["AKIM1"]
    assert "STC*A1:19:PR*20261126*WQ*1480" in segs  # Evergreen's eight claims: $1,480
    assert "STC*A1:19:85**WQ*1480" in segs
    x12valid(claims, tmp_path)


async def test_277ca_rejections_name_what_the_payer_found(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    _, (_, claims) = await _files(ch, fixture("837_rejected.x12"))
    loops = _claim_loops(claims)
    expected = {
        "JLEE3": "STC*A2:20*20261126*WQ*150",
        "XUNK1": "STC*A3:33:IL*20261126*U*150",  # subscriber and subscriber id not found
        "XPRV1": "STC*A7:562:82*20261126*U*150",  # rendering provider's NPI: not credentialed
        "XFAC1": "STC*A6:126:77*20261126*U*150",  # POS 11 without the service facility's address
    }
    for claim_id, stc in expected.items():
        assert stc in loops[claim_id]
        assert any(seg.startswith("REF*1K*") for seg in loops[claim_id]) == (claim_id == "JLEE3")
    segs = segments(claims)
    assert segs[13:17] == ["QTY*90*1", "QTY*AA*3", "AMT*YU*150", "AMT*YY*450"]
    assert set(await results(ch)) == {"JLEE3"}  # only an accepted claim is adjudicated
    x12valid(claims, tmp_path)


async def test_a_replacement_needs_a_payer_claim_number_the_payer_knows(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    _, (_, claims) = await _files(ch, fixture("837_corrections.x12"))
    loops = _claim_loops(claims)
    assert "STC*A2:20*20261126*WQ*150" in loops["JLEE1R"]
    assert "STC*A2:20*20261126*WQ*230" in loops["JLEE2V"]
    assert "STC*A7:464*20261126*U*200" in loops["XBAD7"]
    missing = fixture("837_corrections.x12").replace("REF*F8*EVGRN99999999~\n", "")
    missing = missing.replace("SE*73*0001", "SE*72*0001")
    await ch.post("/_admin/reset")
    _, (_, claims) = await _files(ch, missing)
    loops = _claim_loops(claims)
    # Before the originals were ever accepted, every 7 and 8 is refused; one without REF*F8 too.
    assert "STC*A7:464*20261126*U*150" in loops["JLEE1R"]
    assert "STC*A6:464*20261126*U*200" in loops["XBAD7"]
    x12valid(claims, tmp_path)


@pytest.mark.parametrize(
    ("old", "new", "level", "stc"),
    [
        # A billing NPI the payer has no contract with: 2200C (its STC has no date).
        ("*XX*1234567893~", "*XX*1555555550~", "NM1*85*", "STC*A3:562:85**U*200"),
        # A 1000A submitter other than the sender: not an approved electronic submitter, 2200B.
        ("*46*HEARTH~", "*46*SOMEBODY~", "NM1*41*", "STC*A3:24:41*20261126*U*200"),
    ],
)  # fmt: skip
async def test_a_level_refusal_rejects_every_claim_it_covers(
    ch: httpx.AsyncClient, tmp_path: Path, old: str, new: str, level: str, stc: str
) -> None:
    _, (_, claims) = await _files(ch, fixture("837_duplicate.x12").replace(old, new))
    segs = segments(claims)
    named = next(index for index, seg in enumerate(segs) if seg.startswith(level))
    assert segs[named].endswith(new.strip("~"))
    assert segs[named + 2] == stc  # STC03 U at the provider (2200C) or receiver (2200B) level
    claim_stc = stc.replace("**U", "*20261126*U")  # 2200D repeats it, dated
    assert claim_stc in _claim_loops(claims)["JLEE1B"]
    assert await results(ch) == {}
    x12valid(claims, tmp_path)


async def test_999_rejects_a_frequency_the_guide_does_not_allow(
    ch: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = fixture("837_duplicate.x12").replace("*11:B:1*", "*11:B:6*")
    (_, ack), _ = await _files(ch, text)
    segs = segments(ack)
    start = segs.index("IK3*CLM*19*2300*8")
    assert segs[start : start + 4] == ["IK3*CLM*19*2300*8", "CTX*CLM01:JLEE1B", "IK4*5:3*1325*7*6",
                                       "IK5*R*5"]  # fmt: skip
    x12valid(ack, tmp_path)
