"""CARC, RARC and group codes in plain words: the codes a therapy practice meets, and a
fallback that names an unknown code instead of failing."""

from __future__ import annotations

import pytest

from schemas.remittance_posting import AdjustmentRow
from services.remittance import codes


def _codes(text: str) -> list[str]:
    return text.split()


CARCS = _codes(
    "1 2 3 4 5 11 16 18 22 23 24 26 27 29 31 32 33 35 39 45 49 50 51 55 58 59 96 97 109 119 "
    "129 140 146 167 170 171 177 181 182 183 185 186 187 197 198 199 204 208 222 226 227 234 "
    "242 243 252 253 B5 B7 B9 B10 B11 B15 B20 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 "
    "P15"
)
RARCS = _codes(
    "M15 M20 M51 M76 M77 M80 M86 MA04 MA13 MA18 MA130 N4 N20 N30 N56 N115 N130 N179 N290 N362 "
    "N381 N386 N479 N517 N522 N575 N657"
)


@pytest.mark.parametrize("code", CARCS)
def test_each_carc_a_practice_meets_has_words(code: str) -> None:
    assert code in codes.CARC
    text = codes.reason_text(code)
    assert "ask us" not in text
    assert text == text.strip()
    assert len(text) > 10


@pytest.mark.parametrize("code", RARCS)
def test_each_rarc_a_practice_meets_has_words(code: str) -> None:
    assert code in codes.RARC
    assert "ask us" not in codes.remark_text(code)


def test_the_patient_shares_and_the_groups_say_what_they_are() -> None:
    assert "deductible" in codes.reason_text("1")
    assert "coinsurance" in codes.reason_text("2")
    assert "copay" in codes.reason_text("3")
    assert "allowed amount" in codes.reason_text("45")
    assert "medically necessary" in codes.reason_text("50")
    assert "time limit" in codes.reason_text("29")
    assert "client's share" in codes.group_text("PR")
    assert "not billed" in codes.group_text("CO")
    assert "not billed" in codes.group_text("PI")
    assert codes.group_text("OA").startswith("another adjustment")
    # Codes as a file may write them: lower case letters too.
    assert codes.reason_text("b7") == codes.CARC["B7"]
    assert codes.remark_text("ma130") == codes.RARC["MA130"]


def test_an_unknown_code_gets_a_fallback_naming_it() -> None:
    assert codes.reason_text("123") == "adjustment reason 123: ask us what it means"
    assert codes.remark_text("N9999") == "remark N9999: ask us what it means"
    assert codes.group_text("ZZ") == "adjustment group ZZ: ask us what it means"


def test_an_adjustment_is_worded_with_each_remark() -> None:
    row = AdjustmentRow(
        level="line", line_control_number="L1", group="CO", code="97", amount_cents=2550,
        quantity=None, remark_codes=["M80", "X999"],
    )  # fmt: skip
    out = codes.worded(row)
    assert (out.code, out.amount_cents, out.remark_codes) == ("97", 2550, ["M80", "X999"])
    assert out.reason_text == codes.CARC["97"]
    assert out.group_text == codes.GROUPS["CO"]
    assert [(r.code, r.text) for r in out.remarks] == [
        ("M80", codes.RARC["M80"]),
        ("X999", "remark X999: ask us what it means"),
    ]
