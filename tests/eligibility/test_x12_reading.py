"""Issue 13 item 1: reading a 271 right, one hand-written fixture per rule (005010X279A1).

Each fixture in fixtures/ named here is valid per linuxforhealth-x12 (test_x12.py checks them
all); `jordan_envelope_mistakes` is deliberately not: it carries the envelope mistakes published
271s carry, and the test checks that the same file with its envelope put right is valid.
"""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal

import msgspec
import pytest

from schemas.eligibility import Accumulator, Benefits, Cents, Count, Fraction, Rejection
from services.core.x12 import X12Error, read_interchange
from services.eligibility.x12 import TraceMismatch, parse_271
from services.eligibility.x12.aaa import REJECTION_TEXT, aaa_text
from tests.eligibility.test_x12 import fixture, parse
from tests.x12tools import X12_PYTHON, x279_errors


def mh(cents: int) -> Cents:
    return Cents(cents=cents, source="MH")


# --- 1. EB01 2-5 active, 6-8 inactive -------------------------------------------------------


EB01_STATUS = {
    "1": "active",
    "2": "active",  # active - full risk capitation
    "3": "active",  # active - services capitated
    "4": "active",  # active - services capitated to primary care physician
    "5": "active",  # active - pending investigation
    "6": "inactive",
    "7": "inactive",  # inactive - pending eligibility update
    "8": "inactive",  # inactive - pending investigation
}


def test_eb01_2_to_5_are_active_and_6_to_8_inactive() -> None:
    text = fixture("drew_pending")
    assert "EB*4**MH**EVERGREEN CHOICE PPO~" in text
    for eb01, status in EB01_STATUS.items():
        b = parse_271(text.replace("EB*4**MH", f"EB*{eb01}**MH"), "TR-DREW")
        covered = status == "active"
        assert b.status == status, eb01
        assert (b.in_network.covered, b.out_of_network.covered) == (covered, covered), eb01
        assert b.plan_name == "EVERGREEN CHOICE PPO", eb01


# --- 2. unknown -------------------------------------------------------------------------------


def test_no_coverage_line_for_mh_or_30_is_unknown_never_inactive() -> None:
    b = parse("rowan_unknown")  # only R (with its other payer), L, MC and a copay
    assert b.status == "unknown"
    assert b.rejections == []
    assert not b.in_network.covered
    assert b.in_network.copay == mh(4000)  # what the payer did say is kept
    assert (
        "the payer's answer says nothing about coverage for MH or the plan (no EB01 1-8):"
        " ask the payer"
    ) in b.notes


def test_a_coverage_line_for_another_service_type_does_not_decide() -> None:
    text = fixture("rowan_unknown").replace("EB*L**MH~", "EB*1**98~")
    assert parse_271(text, "TR-ROWAN").status == "unknown"


# --- 3. copays with their period, visit-limit periods ---------------------------------------


def test_a_copay_per_calendar_year_is_kept_with_its_period() -> None:
    t = parse("blake_copay_year").in_network
    assert (t.copay, t.copay_period) == (mh(2500), "calendar_year")
    assert (t.visit_limit, t.visits_remaining) == (
        Count(value=30, source="MH"),
        Count(value=18, source="MH"),
    )
    assert t.visit_limit_period == "calendar_year"


def test_the_per_visit_copay_is_preferred_and_the_others_named() -> None:
    b = parse("blake_two_copays")
    assert (b.in_network.copay, b.in_network.copay_period) == (mh(3000), "visit")
    assert (
        "in network copay: the payer also gives $25.00 per calendar year; "
        "the per-visit copay is used"
    ) in b.notes
    # EB06 absent means per visit too; its period stays None, as JSON stored before it reads.
    text = fixture("blake_two_copays").replace("EB*B**MH***27*30*****Y~", "EB*B**MH****30*****Y~")
    t = parse_271(text, "TR-BLAKE2").in_network
    assert (t.copay, t.copay_period) == (mh(3000), None)
    old = (
        b'{"status":"active","trace":"T",'
        b'"in_network":{"covered":true,"copay":{"cents":3000,"source":"MH"}}}'
    )
    stored = msgspec.json.decode(old, type=Benefits)
    assert (stored.in_network.copay_period, stored.in_network.visit_limit_period) == (None, None)
    assert stored.warnings == []


def test_a_visit_limit_per_month_keeps_its_period() -> None:
    text = fixture("blake_copay_year").replace("HSD*VS*30***23~", "HSD*VS*4***34~")
    t = parse_271(text, "TR-BLAKE").in_network
    assert (t.visit_limit, t.visit_limit_period) == (Count(value=4, source="MH"), "month")


# --- 4. carve-out: see test_x12.test_carve_out_derives_no_figures -----------------------------


def test_a_carve_out_out_of_network_only_plan_covers_only_that_tier() -> None:
    text = fixture("sydney_carve_out").replace(
        "EB*1**30**BLUE HARBOR PPO~", "EB*1**30**BLUE HARBOR PPO*******N~"
    )
    b = parse_271(text, "TR-SYDNEY")
    assert (b.status, b.in_network.covered, b.out_of_network.covered) == ("active", False, True)
    assert b.out_of_network.copay is None


# --- 5. plan name ----------------------------------------------------------------------------


def test_plan_name_from_any_line_when_the_coverage_lines_lack_it() -> None:
    assert parse("kai_plan_name").plan_name == "EVERGREEN SELECT HMO"
    text = fixture("kai_plan_name").replace("EB*1**30~", "EB*1**30**EVERGREEN SELECT~")
    assert parse_271(text, "TR-KAI").plan_name == "EVERGREEN SELECT"  # a coverage line first


# --- 6. AAA texts ----------------------------------------------------------------------------

# The guide's 2100C/2100D AAA03 codes (linuxforhealth 0.57 lacks these lists: it checks those
# loops against 2100B's, see test_x12.py); 2110D uses 2110C's list.
GUIDE_2100CD = {
    *("15", "35", "42", "43", "45", "47", "48", "49", "51", "52", "56", "57", "58", "60", "61"),
    *("62", "63", "64", "65", "66", "67", "68", "71", "72", "73", "74", "75", "76", "77", "78"),
}


def _guide_codes() -> dict[str, list[str]]:
    """Every AAA03 enum of linuxforhealth's 271 models, by segment class."""
    script = (
        "import inspect, json\n"
        "import linuxforhealth.x12.v5010.x12_271_005010X279A1.segments as s\n"
        "print(json.dumps({n: [e.value for e in c.RejectReasonCode]"
        " for n, c in inspect.getmembers(s, inspect.isclass) if hasattr(c, 'RejectReasonCode')}))"
    )
    done = subprocess.run(
        [str(X12_PYTHON), "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    found: dict[str, list[str]] = json.loads(done.stdout)
    return found


def test_every_aaa_reason_of_the_guide_has_its_own_text() -> None:
    by_loop = _guide_codes()
    assert set(by_loop) == {
        "Loop2000AAaaSegment",
        "Loop2100AAaaSegment",
        "Loop2100BAaaSegment",
        "Loop2110CAaaSegment",
    }
    codes = {code for found in by_loop.values() for code in found} | GUIDE_2100CD
    assert len(codes) == 55
    for code in sorted(codes):
        text = aaa_text(code)
        assert code in REJECTION_TEXT, code
        assert not text.startswith("rejected with reason code"), code
    texts = [REJECTION_TEXT[code] for code in codes]
    assert len(set(texts)) == len(texts)  # each its own text
    assert aaa_text("ZZ") == "rejected with reason code ZZ"


def test_aaa_50_reads_as_provider_ineligible() -> None:
    b = parse("aaa50_receiver")
    assert b.status == "rejected"
    assert b.rejections == [Rejection(loop="2100B", code="50", follow_up="N")]
    assert aaa_text("50") == "this provider is not allowed to ask the payer about benefits"


# --- 7. envelope mistakes --------------------------------------------------------------------


def test_a_271_with_envelope_mistakes_is_read_with_warnings() -> None:
    text = fixture("jordan_envelope_mistakes")
    with pytest.raises(X12Error, match="SE01"):
        read_interchange(text)  # strict, as an 835 must be
    b = parse_271(text, "TR-JORDAN")
    same = parse("jordan_copay")
    assert (b.status, b.in_network, b.out_of_network) == (
        same.status,
        same.in_network,
        same.out_of_network,
    )
    assert b.warnings == [
        "SE01 segment count in SE (segment 20) does not match the envelope; read past it",
        "SE02 control number in SE (segment 20) does not match the envelope; read past it",
        "GE01 transaction set count in GE (segment 21) does not match the envelope; read past it",
        "GE02 control number in GE (segment 21) does not match the envelope; read past it",
        "IEA02 control number in IEA (segment 22) does not match the envelope; read past it",
    ]
    assert same.warnings == []
    assert x279_errors(text)  # the mistakes are real to a validator
    fixed = (
        text.replace("SE*19*0002~", "SE*18*0001~")
        .replace("GE*2*102~", "GE*1*101~")
        .replace("IEA*1*000000100~", "IEA*1*000000101~")
    )
    assert x279_errors(fixed) == []  # and they are the only ones


def test_envelope_leniency_still_refuses_what_is_not_ours_or_not_whole() -> None:
    text = fixture("jordan_envelope_mistakes")
    with pytest.raises(TraceMismatch):
        parse_271(text, "other-trace")
    with pytest.raises(X12Error, match="truncated"):
        parse_271(text[: text.index("GE*")], "TR-JORDAN")
    with pytest.raises(X12Error, match="ISA"):
        parse_271("HTTP/1.1 502 Bad Gateway", "TR-JORDAN")
    with pytest.raises(X12Error, match="outside a transaction set"):
        parse_271(text.replace("SE*19*0002~\n", "SE*19*0002~\nREF*EJ*1~\n"), "TR-JORDAN")


# --- 8. IND and FAM from one source ----------------------------------------------------------


def test_individual_and_family_come_from_the_same_source() -> None:
    b = parse("lee_mixed_sources")
    # MH gives the individual deductible: the family one from 30 is not mixed in.
    assert b.in_network.deductible == Accumulator(total=mh(150000), remaining=mh(90000))
    # MH gives the family out-of-pocket maximum only: 30's individual one is not mixed in.
    assert b.in_network.out_of_pocket == Accumulator(family_total=mh(1000000))
    assert (
        "in network deductible: MH gives no family figure; service type 30's is not mixed in"
        in b.notes
    )
    assert (
        "in network out-of-pocket maximum: MH gives no individual figure; "
        "service type 30's is not mixed in"
    ) in b.notes
    # MH silent on the deductible: both halves from 30.
    text = fixture("lee_mixed_sources")
    for old in ("EB*C*IND*MH***23*1500*****Y~", "EB*C*IND*MH***29*900*****Y~"):
        text = text.replace(old, "EB*1**98~")  # keeps the SE count
    d = parse_271(text, "TR-LEE").in_network.deductible
    assert d == Accumulator(
        total=Cents(cents=200000, source="30"),
        family_total=Cents(cents=400000, source="30"),
        family_remaining=Cents(cents=10000, source="30"),
    )


# --- 9. figures out of range -----------------------------------------------------------------


def test_figures_out_of_range_are_dropped_with_a_note_and_a_warning() -> None:
    b = parse("sam_out_of_range")
    t = b.in_network
    assert b.status == "active"
    assert t.deductible == Accumulator()
    assert t.coinsurance is None
    assert (t.copay, t.out_of_pocket.total) == (mh(2000), mh(400000))  # the rest stands
    assert "EB at segment 14 (C, MH): a negative deductible (EB07) is not used" in b.notes
    assert "EB at segment 15 (A, MH): a coinsurance (EB08) outside 0-100% is not used" in b.notes
    assert b.warnings == [
        "EB07 in EB at segment 14 (C, MH) is negative; not used",
        "EB08 in EB at segment 15 (A, MH) is out of range; not used",
    ]
    assert not any(re.search(r"500|250", w) for w in b.warnings)  # where, never what
    for eb08, value in (("20", "0.2"), ("100", "1"), (".35", "0.35"), ("0", "0")):
        text = fixture("sam_out_of_range").replace("*****250****Y~", f"*****{eb08}****Y~")
        t = parse_271(text, "TR-SAM").in_network
        assert t.coinsurance == Fraction(value=Decimal(value), source="MH"), eb08
