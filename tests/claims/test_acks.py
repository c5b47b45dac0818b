"""The TA1, 999 and 277CA readers: each rule of DESIGN.md "Acknowledgements" on small files."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.claims.acks import read_277ca, read_999, read_ta1
from services.core.x12 import ControlNumbers, Envelope, Segment, write_interchange

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
OURS = "C00000000101"
OTHER = "C00000000201"


def _file(functional_id: str, version: str, set_id: str, body: list[Segment]) -> str:
    """The body with `a:b` values written as composites, in a well-formed envelope."""
    composed = [
        tuple(tuple(v.split(":")) if isinstance(v, str) and ":" in v else v for v in seg)
        for seg in body
    ]
    return write_interchange(
        [(set_id, composed)],
        envelope=Envelope("HEARTHCH", "HEARTH", functional_id, version),
        control=ControlNumbers(interchange=7, group=7),
        now=NOW,
    )


def _999(*body: Segment) -> str:
    return _file("FA", "005010X231A1", "999", [("AK1", "HC", "42", "005010X222A1"), *body])


def test_999_accepted_with_errors_is_acknowledged_keeping_them() -> None:
    text = _999(
        ("AK2", "837", "0001", "005010X222A1"),
        ("IK3", "REF", "12", "2300", "8"),
        ("IK4", "2", "128", "7", "ZZ"),
        ("IK5", "E"),
        ("AK9", "E", "1", "1", "1"),
    )
    ack = read_999(text, 42, "0001")
    assert ack.decision == "acknowledged"
    assert ack.set_codes == ["IK5:E", "IK3:REF/12/2300/8", "IK4:2/128/7/ZZ"]


@pytest.mark.parametrize("code", ["R", "M", "W", "X"])
def test_999_rejected_set_names_the_claim_in_ctx(code: str) -> None:
    text = _999(
        ("AK2", "837", "0001", "005010X222A1"),
        ("IK3", "CLM", "20", "2300", "8"),
        ("CTX", f"CLM01:{OURS}"),
        ("IK4", "2", "782", "7", "150"),
        ("IK5", code, "5"),
        ("AK9", "R", "1", "1", "0"),
    )
    ack = read_999(text, 42, "0001")
    assert ack.decision == "rejected"
    assert ack.claim_codes == {OURS: ["IK3:CLM/20/2300/8", "IK4:2/782/7/150"]}
    assert ack.set_codes == [f"IK5:{code}", "IK5:5"]


def test_999_for_another_group_goes_to_ops() -> None:
    text = _999(("AK2", "837", "0001", "005010X222A1"), ("IK5", "A"), ("AK9", "A", "1", "1", "1"))
    assert read_999(text, 43, "0001").decision == "ops"


def test_999_group_refused_without_our_set_rejects_it() -> None:
    ack = read_999(_999(("AK9", "R", "1", "1", "0", "2")), 42, "0001")
    assert (ack.decision, ack.set_codes) == ("rejected", ["AK9:R", "AK9:2"])


def test_ta1_r_refuses_the_interchange() -> None:
    isa = "ISA*00*          *00*          *ZZ*HEARTHCH       *ZZ*HEARTH         *261126*1500"
    text = f"{isa}*^*00501*000000007*0*P*:~TA1*000000042*261126*1500*R*006~IEA*0*000000007~"
    ta1 = read_ta1(text)
    assert (ta1.interchange_control, ta1.refused, ta1.note) == ("000000042", True, "006")


def _277(submitter: tuple[str, str], provider: tuple[str, str], *claims: list[Segment]) -> str:
    body: list[Segment] = [
        ("BHT", "0085", "08", "7", "20261126", "150000", "TH"),
        ("HL", "1", "", "20", "1"),
        ("NM1", "PR", "2", "EVERGREEN", "", "", "", "", "PI", "EVGRN"),
        ("TRN", "1", "7EVGRN"),
        ("DTP", "050", "D8", "20261126"),
        ("DTP", "009", "D8", "20261126"),
        ("HL", "2", "1", "21", "1"),
        ("NM1", "41", "2", "HEARTH", "", "", "", "", "46", "HEARTH"),
        ("TRN", "2", "42"),
        ("STC", submitter[0], "20261126", submitter[1], "150"),
        ("HL", "3", "2", "19", "1"),
        ("NM1", "85", "2", "HEARTH", "", "", "", "", "XX", "1234567893"),
        ("TRN", "1", "0"),
        ("STC", provider[0], "", provider[1], "150"),
    ]
    for n, claim in enumerate(claims, start=4):
        body += [("HL", str(n), "3", "PT"), *claim]
    return _file("HN", "005010X214", "277", body)


def _claim(clm01: str, *stcs: tuple[str, str], ref: str | None = None) -> list[Segment]:
    segs: list[Segment] = [("NM1", "QC", "1", "LEE", "JORDAN", "", "", "", "MI", "EVG100001")]
    segs.append(("TRN", "2", clm01))
    segs += [("STC", code, "20261125", action, "150") for code, action in stcs]
    if ref:
        segs.append(("REF", "1K", ref))
    return segs


FINE = ("A1:19:PR", "WQ"), ("A1:19:85", "WQ")


def test_277ca_each_category_by_its_rule() -> None:
    text = _277(
        *FINE,
        _claim(OURS, ("A2:20", "WQ"), ref="EVGRN00000001"),
        _claim(OTHER, ("A1:19", "WQ")),
        _claim("C00000000301", ("A3:33:IL", "U")),
        _claim("C00000000401", ("A9:1", "WQ")),
        _claim("C00000000501", ("A2:20", "WQ"), ("A7:562:82", "U")),
    )
    result = read_277ca(text).claims
    accepted = result[OURS]
    assert (accepted.decision, accepted.payer_claim_number) == ("accepted", "EVGRN00000001")
    assert accepted.proof_date == date(2026, 11, 25)
    assert result[OTHER].decision == "unchanged"
    assert (result["C00000000301"].decision, result["C00000000301"].codes) == (
        "rejected",
        ("A3:33:IL",),
    )
    assert result["C00000000401"].decision == "ops"
    # A rejecting STC beside an accepting one rejects the claim, keeping every code.
    assert result["C00000000501"].decision == "rejected"
    assert result["C00000000501"].codes == ("A2:20", "A7:562:82")


@pytest.mark.parametrize(
    ("submitter", "provider", "reason"),
    [
        (("A3:24:41", "U"), ("A1:19:85", "WQ"), "A3:24:41"),
        (("A1:19:PR", "WQ"), ("A3:562:85", "U"), "A3:562:85"),
    ],
)
def test_277ca_2200b_or_2200c_refusal_rejects_every_claim_below(
    submitter: tuple[str, str], provider: tuple[str, str], reason: str
) -> None:
    text = _277(submitter, provider, _claim(OURS, ("A2:20", "WQ")), _claim(OTHER))
    result = read_277ca(text).claims
    for clm01 in (OURS, OTHER):
        assert result[clm01].decision == "rejected"
        assert reason in result[clm01].codes


def test_277ca_refusal_without_claims_covers_the_whole_file() -> None:
    result = read_277ca(_277(("A3:24:41", "U"), ("A1:19:85", "WQ")))
    assert (result.claims, result.all_rejected) == ({}, ["A3:24:41"])
