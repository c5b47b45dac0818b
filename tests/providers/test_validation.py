"""NPI, taxonomy, state, tax id and CPT checks (property-tested)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.providers.validation import (
    US_STATES,
    is_us_state,
    is_valid_cpt,
    is_valid_npi,
    is_valid_taxonomy,
    luhn_check_digit,
    normalize_tax_id,
    npi_check_digit,
)

KNOWN_VALID_NPIS = ["1234567893", "1245319599", "1003000126", "1144221847"]
npi_bodies = st.from_regex(r"\A[12][0-9]{8}\Z")


def _with_check(body: str) -> str:
    return body + str(npi_check_digit(body))


@pytest.mark.parametrize("npi", KNOWN_VALID_NPIS)
def test_known_npis_are_valid(npi: str) -> None:
    assert is_valid_npi(npi)


def test_the_cms_example_check_digit() -> None:
    # CMS worked example: 123456789 -> 3, the same as Luhn over 80840123456789.
    assert npi_check_digit("123456789") == 3
    assert luhn_check_digit("80840123456789") == 3


@pytest.mark.parametrize("npi", KNOWN_VALID_NPIS)
def test_every_wrong_check_digit_of_a_known_npi_fails(npi: str) -> None:
    wrong = [npi[:9] + d for d in "0123456789" if d != npi[9]]
    assert len(wrong) == 9
    assert not any(is_valid_npi(w) for w in wrong)


@settings(deadline=None, max_examples=300)
@given(npi_bodies)
def test_generated_npis_pass_and_every_single_digit_change_fails(body: str) -> None:
    npi = _with_check(body)
    assert is_valid_npi(npi)
    for position in range(10):
        for digit in "0123456789":
            if digit != npi[position]:
                changed = npi[:position] + digit + npi[position + 1 :]
                assert not is_valid_npi(changed), changed


@settings(deadline=None)
@given(npi_bodies, st.integers(min_value=0, max_value=9))
def test_exactly_one_check_digit_is_right(body: str, digit: int) -> None:
    assert is_valid_npi(body + str(digit)) == (digit == npi_check_digit(body))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123456789",  # 9 digits
        "12345678931",  # 11 digits
        "3234567893",  # first digit neither 1 nor 2
        "0234567893",
        "12345678O3",  # letter O
        "123456789X",
        " 1234567893",
        "1234567893\n",
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff13",  # full-width digits
        "1234-67893",
    ],
)
def test_malformed_npis_fail(value: str) -> None:
    assert not is_valid_npi(value)


@settings(deadline=None)
@given(st.text(max_size=12))
def test_npi_check_never_raises(value: str) -> None:
    assert is_valid_npi(value) in (True, False)


@pytest.mark.parametrize("code", ["101YM0800X", "103T00000X", "1041C0700X", "106H00000X"])
def test_known_taxonomy_codes_are_valid(code: str) -> None:
    assert is_valid_taxonomy(code)


@pytest.mark.parametrize(
    "code",
    ["", "101YM0800", "101YM0800XX", "101YM08000", "101ym0800x", "101YM-800X", "101YM0800x"],
)
def test_malformed_taxonomy_codes_fail(code: str) -> None:
    assert not is_valid_taxonomy(code)


@settings(deadline=None)
@given(st.from_regex(r"\A[0-9A-Z]{9}X\Z"))
def test_any_nine_alphanumerics_then_x_is_a_taxonomy_code(code: str) -> None:
    assert is_valid_taxonomy(code)


@settings(deadline=None)
@given(st.text(max_size=12).filter(lambda s: len(s) != 10 or not s.endswith("X")))
def test_anything_not_ending_in_x_at_ten_fails(code: str) -> None:
    assert not is_valid_taxonomy(code)


def test_states() -> None:
    assert len(US_STATES) == 56
    assert is_us_state("NY")
    assert is_us_state("DC")
    assert is_us_state("PR")
    assert not is_us_state("ny")
    assert not is_us_state("XX")
    assert not is_us_state("")


@settings(deadline=None)
@given(st.from_regex(r"\A[0-9]{9}\Z").filter(lambda d: d != "000000000"))
def test_tax_id_formats_store_the_nine_digits(digits: str) -> None:
    ein = f"{digits[:2]}-{digits[2:]}"
    ssn = f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
    assert normalize_tax_id(digits) == normalize_tax_id(ein) == normalize_tax_id(ssn) == digits


@pytest.mark.parametrize(
    "value",
    ["", "12345678", "1234567890", "123-456-789", "1-23456789", "12-345-6789", "12345678a",
     "000000000", "00-0000000", "123 45 6789"],
)  # fmt: skip
def test_malformed_tax_ids_are_refused(value: str) -> None:
    assert normalize_tax_id(value) is None


@pytest.mark.parametrize(("code", "ok"), [("90834", True), ("9083", False), ("0001F", False)])
def test_cpt_codes(code: str, ok: bool) -> None:
    assert is_valid_cpt(code) is ok
