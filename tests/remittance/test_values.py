"""835 amounts parse exactly to signed integer cents; never through a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.remittance.x835 import values
from services.remittance.x835.values import ccyymmdd, cents, quantity


@settings(deadline=None)
@given(st.integers(min_value=-(10**13), max_value=10**13), st.integers(min_value=0, max_value=3))
def test_every_way_of_writing_an_amount_gives_its_cents(value: int, zeros: int) -> None:
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    written = f"{sign}{whole}.{part:02d}" + "0" * zeros
    assert cents(written) == value
    if part == 0:
        assert cents(f"{sign}{whole}") == value
    if part % 10 == 0:
        assert cents(f"{sign}{whole}.{part // 10}") == value
    if whole == 0 and part:
        assert cents(f"{sign}.{part:02d}") == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("100", 10000), ("100.5", 10050), (".5", 50), ("-0.01", -1), ("5.", 500), ("-.5", -50),
     ("1.230", 123), ("-0", 0), ("007.10", 710), ("1.000", 100),
     ("99999999999999.9900", 9999999999999999)],
)  # fmt: skip
def test_amount_forms_x12_writes(text: str, value: int) -> None:
    values.CENTS_CACHE.clear()
    assert cents(text) == value
    assert cents(text) == value  # from the cache


def test_amounts_a_float_would_round() -> None:
    assert cents("0.29") == 29  # float("0.29") * 100 is 28.999999999999996
    assert cents("1234567890123456.78") == 123456789012345678
    assert cents("-1.1") == -110


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is required"),
        ("1.005", "fractions of a cent"),
        ("1e3", "not a decimal"),
        ("1E2", "not a decimal"),  # type R has no exponent
        ("1.2.3", "not a decimal"),
        ("--1", "not a decimal"),
        ("-.", "not a decimal"),
        (" 1", "not a decimal"),
        ("0.001", "fractions of a cent"),
        ("1234567890123456.789", "more than 18 digits"),
        ("+5", "not a decimal"),
        ("1,000", "not a decimal"),
        ("NaN", "not a decimal"),
        ("-", "not a decimal"),
        (".", "not a decimal"),
        ("\uff11\uff12", "not a decimal"),  # full-width digits: str.isdigit would take them
        ("1" * 19, "more than 18 digits"),
    ],
)
def test_what_is_not_an_amount(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cents(text)


def test_quantities_and_dates() -> None:
    assert quantity("1.5") == Decimal("1.5")
    assert quantity("-1") == Decimal(-1)
    with pytest.raises(ValueError, match="not a decimal"):
        quantity("Infinity")
    assert ccyymmdd("20261231").isoformat() == "2026-12-31"
    full_width = "".join(chr(0xFF10 + int(d)) for d in "20261231")
    for bad in ("2026123", "2026-12-3", "20260230", full_width):
        with pytest.raises(ValueError, match="date"):
            ccyymmdd(bad)
