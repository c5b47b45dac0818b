"""Every plan shape of the demo world, asked through the running simulator with hand-written 270s.

Each 271 must be valid 005010X279A1 per linuxforhealth-x12, except for the tool's known 0.57
defect (it checks a 2100C/2100D AAA code against the 2100B list): there the file stays right,
the test asserts that the refusal is exactly that defect, and checks the AAA code per loop itself.
"""

from __future__ import annotations

import re

import httpx
import pytest

from schemas.eligibility import Cents
from services.eligibility.x12 import parse_271
from tests.infra.clearinghouse.conftest import ask, loops, segments
from tests.x12tools import x279_errors


def eb(x12: str) -> list[str]:
    return [seg for seg in segments(x12) if seg.startswith(("EB*", "HSD*", "LS*", "NM1*PR*2*M",
                                                           "PER*", "LE*"))]  # fmt: skip


def assert_valid(x12: str) -> None:
    assert x279_errors(x12) == []


SHAPES = {
    # Copay $30 in network, deductible $500 met.
    "270_jordan_lee.x12": [
        "EB*1**30*PR*Evergreen Choice PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***27*30*****Y",
        "EB*C*IND*MH***23*500*****Y",
        "EB*C*IND*MH***29*0*****Y",
        "EB*G*IND*MH***23*3000*****Y",
        "EB*G*IND*MH***29*2440*****Y",
    ],
    # The same member on 2026-02-01: only January's $200 of the deductible is used.
    "270_jordan_lee_feb.x12": [
        "EB*1**30*PR*Evergreen Choice PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***27*30*****Y",
        "EB*C*IND*MH***23*500*****Y",
        "EB*C*IND*MH***29*300*****Y",
        "EB*G*IND*MH***23*3000*****Y",
        "EB*G*IND*MH***29*2800*****Y",
    ],
    # No DTP*291: answered as of the simulator's today (2026-11-26).
    "270_no_service_date.x12": [
        "EB*1**30*PR*Evergreen Choice PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***27*30*****Y",
        "EB*C*IND*MH***23*500*****Y",
        "EB*C*IND*MH***29*0*****Y",
        "EB*G*IND*MH***23*3000*****Y",
        "EB*G*IND*MH***29*2440*****Y",
    ],
    # Deductible met, 20% coinsurance; asked with EQ*MH and EQ*30: both sets of lines.
    "270_casey_morgan.x12": [
        "EB*1**30*PR*Evergreen Value PPO",
        "EB*A*IND*30*****.2****Y",
        "EB*C*IND*30***23*1000*****Y",
        "EB*C*IND*30***29*0*****Y",
        "EB*G*IND*30***23*4000*****Y",
        "EB*G*IND*30***29*2940*****Y",
        "EB*1**MH*********Y",
        "EB*A*IND*MH*****.2****Y",
        "EB*C*IND*MH***23*1000*****Y",
        "EB*C*IND*MH***29*0*****Y",
        "EB*G*IND*MH***23*4000*****Y",
        "EB*G*IND*MH***29*2940*****Y",
    ],
    # Out-of-pocket met.
    "270_riley_chen.x12": [
        "EB*1**30*PR*Evergreen Value PPO",
        "EB*1**MH*********Y",
        "EB*A*IND*MH*****.2****Y",
        "EB*C*IND*MH***23*1000*****Y",
        "EB*C*IND*MH***29*0*****Y",
        "EB*G*IND*MH***23*4000*****Y",
        "EB*G*IND*MH***29*0*****Y",
    ],
    # 20 visits a year, 18 used; $25 copay.
    "270_avery_patel.x12": [
        "EB*1**30*PR*Evergreen Basic PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***27*25*****Y",
        "EB*G*IND*MH***23*2500*****Y",
        "EB*G*IND*MH***29*2050*****Y",
        "EB*F*IND*MH*********Y",
        "HSD*VS*20***23",
        "EB*F*IND*MH*********Y",
        "HSD*VS*2***29",
    ],
    # A new plan year: the visits and out-of-pocket start again.
    "270_avery_patel_next_year.x12": [
        "EB*1**30*PR*Evergreen Basic PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***27*25*****Y",
        "EB*G*IND*MH***23*2500*****Y",
        "EB*G*IND*MH***29*2500*****Y",
        "EB*F*IND*MH*********Y",
        "HSD*VS*20***23",
        "EB*F*IND*MH*********Y",
        "HSD*VS*20***29",
    ],
    # MH says nothing: only service type 30 lines.
    "270_quinn_foster.x12": [
        "EB*1**30*HM*Evergreen Select HMO",
        "EB*B*IND*30***27*40*****Y",
        "EB*G*IND*30***23*2000*****Y",
        "EB*G*IND*30***29*1960*****Y",
    ],
    # The subscriber asks about service type 30 for themself: 30 and MH lines, IND and FAM.
    "270_pat_kim.x12": [
        "EB*1**30*PR*Blue Harbor Family PPO",
        "EB*A*IND*30*****.3****Y",
        "EB*C*IND*30***23*1500*****Y",
        "EB*C*IND*30***29*300*****Y",
        "EB*C*FAM*30***23*3000*****Y",
        "EB*C*FAM*30***29*1200*****Y",
        "EB*G*IND*30***23*5000*****Y",
        "EB*G*IND*30***29*3800*****Y",
        "EB*G*FAM*30***23*10000*****Y",
        "EB*G*FAM*30***29*8200*****Y",
        "EB*1**MH*********Y",
        "EB*A*IND*MH*****.3****Y",
        "EB*C*IND*MH***23*1500*****Y",
        "EB*C*IND*MH***29*300*****Y",
        "EB*C*FAM*MH***23*3000*****Y",
        "EB*C*FAM*MH***29*1200*****Y",
        "EB*G*IND*MH***23*5000*****Y",
        "EB*G*IND*MH***29*3800*****Y",
        "EB*G*FAM*MH***23*10000*****Y",
        "EB*G*FAM*MH***29*8200*****Y",
    ],
    # Coverage ended 2025-12-31.
    "270_morgan_diaz.x12": ["EB*6**30"],
    # Mental health carved out: who to ask, and no figures.
    "270_sydney_park.x12": [
        "EB*1**30*PR*Blue Harbor Medical PPO",
        "EB*U**MH",
        "LS*2120",
        "NM1*PR*2*Mindful Behavioral Health*****PI*MBH01",
        "PER*IC**TE*8005550199",
        "LE*2120",
    ],
    # High deductible, 20% after it, prior authorization required (EB11 Y).
    "270_taylor_brooks.x12": [
        "EB*1**30*PR*Summit HSA High Deductible",
        "EB*1**MH********Y*Y",
        "EB*A*IND*MH*****.2***Y*Y",
        "EB*C*IND*MH***23*3000*****Y",
        "EB*C*IND*MH***29*2800*****Y",
        "EB*G*IND*MH***23*6000*****Y",
        "EB*G*IND*MH***29*5500*****Y",
    ],
    # Out of network only for MH: in network not covered (EB*I), EB12 N lines.
    "270_jamie_rivera.x12": [
        "EB*1**30*C1*Summit Open Access",
        "EB*I**MH*********Y",
        "EB*1**MH*********N",
        "EB*A*IND*MH*****.4****N",
        "EB*C*IND*MH***23*1000*****N",
        "EB*C*IND*MH***29*1000*****N",
    ],
    # Issue 13: a copay stated per calendar year (EB06 23), as some payers send it.
    "270_jordan_lee_copay_year.x12": [
        "EB*1**30*PR*Evergreen Core PPO",
        "EB*1**MH*********Y",
        "EB*B*IND*MH***23*25*****Y",
        "EB*G*IND*MH***23*3000*****Y",
        "EB*G*IND*MH***29*2925*****Y",
        "EB*F*IND*MH*********Y",
        "HSD*VS*30***23",
        "EB*F*IND*MH*********Y",
        "HSD*VS*27***29",
    ],
    # Issue 13: coverage pending investigation (EB01 5): still active.
    "270_jordan_lee_pending.x12": [
        "EB*5**30*PR*Evergreen Bridge PPO",
        "EB*5**MH*********Y",
        "EB*B*IND*MH***27*35*****Y",
    ],
    # Issue 13: no coverage line at all, only the copay: read as unknown, never inactive.
    "270_jordan_lee_unstated.x12": ["EB*B*IND*MH***27*40*****Y"],
}


@pytest.mark.parametrize("name", sorted(SHAPES))
async def test_plan_shapes(ch: httpx.AsyncClient, name: str) -> None:
    x12 = await ask(ch, name)
    assert eb(x12) == SHAPES[name]
    assert_valid(x12)
    # The 270's trace comes back as TRN*2 in the subscriber loop.
    trace = [(loop, seg) for loop, seg in loops(x12) if seg.startswith("TRN*")]
    assert [loop for loop, _ in trace] == ["2000C"]
    assert trace[0][1].startswith("TRN*2*HRTH000")
    assert trace[0][1].endswith("*1123456789")
    assert not any(seg.startswith("AAA") for seg in segments(x12))


@pytest.mark.parametrize(
    ("name", "status", "copay", "copay_period", "visit_limit_period"),
    [
        ("270_jordan_lee.x12", "active", 3000, "visit", None),
        ("270_jordan_lee_copay_year.x12", "active", 2500, "calendar_year", "calendar_year"),
        ("270_jordan_lee_pending.x12", "active", 3500, "visit", None),
        ("270_jordan_lee_unstated.x12", "unknown", 4000, "visit", None),
    ],
)
async def test_issue13_shapes_read_by_hearth(
    ch: httpx.AsyncClient,
    name: str,
    status: str,
    copay: int,
    copay_period: str,
    visit_limit_period: str | None,
) -> None:
    x12 = await ask(ch, name)
    trace = re.search(r"TRN\*2\*([^*~]+)", x12)
    assert trace is not None
    benefits = parse_271(x12, trace.group(1))
    tier = benefits.in_network
    assert benefits.status == status
    assert tier.copay == Cents(cents=copay, source="MH")
    assert (tier.copay_period, tier.visit_limit_period) == (copay_period, visit_limit_period)


async def test_plan_dates_follow_the_date_of_service(ch: httpx.AsyncClient) -> None:
    dtp = [s for s in segments(await ask(ch, "270_avery_patel_next_year.x12")) if "DTP" in s]
    assert dtp == ["DTP*346*D8*20270101", "DTP*347*D8*20271231", "DTP*356*D8*20250101"]
    dtp = [s for s in segments(await ask(ch, "270_morgan_diaz.x12")) if "DTP" in s]
    assert dtp == ["DTP*356*D8*20190101", "DTP*357*D8*20251231"]


async def test_dependant_without_own_id_is_answered_in_2000d(ch: httpx.AsyncClient) -> None:
    x12 = await ask(ch, "270_alex_kim.x12")
    assert_valid(x12)
    by_loop = loops(x12)
    assert ("2000C", "HL*3*2*22*1") in by_loop
    assert ("2000D", "HL*4*3*23*0") in by_loop
    assert ("2000D", "TRN*2*HRTH000108*1123456789") in by_loop
    assert not any(seg.startswith("TRN") for loop, seg in by_loop if loop == "2000C")
    assert ("2100C", "NM1*IL*1*Kim*Pat****MI*BHI200001") in by_loop
    assert ("2100D", "NM1*03*1*Kim*Alex") in by_loop
    assert ("2100D", "INS*N*19") in by_loop
    benefits = [seg for loop, seg in by_loop if loop == "2110D"]
    assert benefits == [
        "EB*1**30*PR*Blue Harbor Family PPO",
        "EB*1**MH*********Y",
        "EB*A*IND*MH*****.3****Y",
        "EB*C*IND*MH***23*1500*****Y",
        "EB*C*IND*MH***29*900*****Y",
        "EB*C*FAM*MH***23*3000*****Y",
        "EB*C*FAM*MH***29*1200*****Y",
        "EB*G*IND*MH***23*5000*****Y",
        "EB*G*IND*MH***29*4400*****Y",
        "EB*G*FAM*MH***23*10000*****Y",
        "EB*G*FAM*MH***29*8200*****Y",
    ]


async def test_delimiters_come_from_the_isa(ch: httpx.AsyncClient) -> None:
    x12 = await ask(ch, "270_casey_morgan_pipes.x12")
    assert x12.startswith("ISA|00|")
    assert x12[104:106] == ">^"
    assert x12.split("^")[0].split("|")[11] == "!"  # ISA11, the repetition separator, echoed
    assert "EB|A|IND|MH|||||.2||||Y^" in x12
    assert "EB|A|IND|30|||||.2||||Y^" in x12
    assert_valid(x12)


async def test_a_short_isa_and_newline_terminators_are_read(ch: httpx.AsyncClient) -> None:
    # ISA06/ISA08 not padded to 15 and a newline as segment terminator: the delimiters are
    # found by counting ISA elements. The answer has a well-formed ISA and ends its segments
    # with `~`, never a line break (often stripped as wrapping).
    x12 = await ask(ch, "270_jordan_lee_short_isa.x12")
    assert x12.startswith("ISA*00*          *00*          *ZZ*EVGRN          *ZZ*HEARTH   ")
    assert x12[104:106] == ":~"
    assert "\n" not in x12
    assert eb(x12) == SHAPES["270_jordan_lee.x12"]
    assert_valid(x12)


async def test_envelope_and_control_numbers(ch: httpx.AsyncClient) -> None:
    first = segments(await ask(ch, "270_jordan_lee.x12"))
    second = segments(await ask(ch, "270_jordan_lee.x12"))
    isa = first[0].split("*")
    assert isa[5:9] == ["ZZ", "EVGRN".ljust(15), "ZZ", "HEARTH".ljust(15)]
    assert first[1].startswith("GS*HB*EVGRN*HEARTH*")
    assert first[1].endswith("*X*005010X279A1")
    assert first[2] == "ST*271*0001*005010X279A1"
    assert first[3].startswith("BHT*0022*11*REQ000101*")
    assert first[-3] == f"SE*{len(first) - 4}*0001"
    number = int(isa[13])
    assert first[-2] == f"GE*1*{number}"
    assert first[-1] == f"IEA*1*{number:09d}"
    assert int(second[0].split("*")[13]) > number


# --- rejections -----------------------------------------------------------------------------
# linuxforhealth-x12 0.57 checks a 2100C/2100D AAA code against the 2100B list and so refuses
# AAA*N**75*C and AAA*N**71*C in those loops. The files are right; the tests below assert that
# the tool's refusal is exactly that defect and check the AAA code and its loop themselves.


def assert_only_known_aaa_defect(x12: str, loop: str, aaa: str) -> None:
    errors = x279_errors(x12)
    assert len(errors) == 1, errors
    # pydantic's location of the refused field, however the validator prints it
    where = rf"loop_{loop.lower()}\W+aaa_segment\W+0\W+reject_reason_code"
    assert re.search(where, errors[0]), errors
    # The same file with a code that is on both lists (15, required application data missing)
    # passes: the reject code is the tool's only objection. Only this check's copy is changed.
    assert x279_errors(x12.replace(aaa, "AAA*N**15*C")) == []


@pytest.mark.parametrize(
    ("name", "loop", "aaa"),
    [
        ("270_unknown_member.x12", "2100C", "AAA*N**75*C"),
        ("270_wrong_dob.x12", "2100C", "AAA*N**71*C"),
        ("270_no_dob.x12", "2100C", "AAA*N**58*C"),
        ("270_alex_kim_wrong_dob.x12", "2100D", "AAA*N**71*C"),
        ("270_unknown_dependant.x12", "2100D", "AAA*N**67*C"),
    ],
)
async def test_member_rejections_in_their_loop(
    ch: httpx.AsyncClient, name: str, loop: str, aaa: str
) -> None:
    x12 = await ask(ch, name)
    rejections = [(lp, seg) for lp, seg in loops(x12) if seg.startswith("AAA")]
    assert rejections == [(loop, aaa)]
    assert not any(seg.startswith("EB") for seg in segments(x12))
    assert_only_known_aaa_defect(x12, loop, aaa)  # known defect: AAA code checked above


@pytest.mark.parametrize(
    ("name", "loop", "aaa"),
    [
        ("270_unknown_payer.x12", "2100A", "AAA*N**79*C"),
        ("270_bad_npi.x12", "2100B", "AAA*N**43*C"),
    ],
)
async def test_payer_and_provider_rejections(
    ch: httpx.AsyncClient, name: str, loop: str, aaa: str
) -> None:
    x12 = await ask(ch, name)
    rejections = [(lp, seg) for lp, seg in loops(x12) if seg.startswith("AAA")]
    assert rejections == [(loop, aaa)]
    assert not any(seg.startswith("EB") for seg in segments(x12))
    assert_valid(x12)


async def test_aaa42_mode_answers_unable_to_respond_in_2100a(ch: httpx.AsyncClient) -> None:
    assert (await ch.post("/_admin/mode", json={"mode": "aaa42"})).status_code == 200
    x12 = await ask(ch, "270_jordan_lee.x12")
    rejections = [(lp, seg) for lp, seg in loops(x12) if seg.startswith("AAA")]
    assert rejections == [("2100A", "AAA*Y**42*R")]
    assert ("2000C", "TRN*2*HRTH000101*1123456789") in loops(x12)
    assert not any(seg.startswith("EB") for seg in segments(x12))
    assert_valid(x12)
