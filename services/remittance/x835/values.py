"""Element values of an 835, parsed exactly: amounts to integer cents, quantities to Decimal.

Each parser raises ValueError with a reason that quotes nothing; the reader adds the element's
name and the segment's position. Amounts and dates repeat across a file (the same charge, the
same day), so their parses are cached in small dicts that are emptied when full.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

# X12 type R: an optional minus, digits with an optional decimal point; at most 18 digits.
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_DIGITS = 18
_CACHE_SIZE = 4096
# Read directly by the transaction builder, on its hot path (emptied in place, never rebound).
CENTS_CACHE: dict[str, int] = {}
_dates: dict[str, date] = {}


def cents(text: str) -> int:
    """A decimal amount as integer cents, sign kept; more than two decimals (non-zero) refused."""
    try:
        return CENTS_CACHE[text]
    except KeyError:
        pass
    if not text:
        raise ValueError("is required")
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError("is not a decimal amount")
    digits = text.lstrip("-")
    if len(digits.replace(".", "")) > _MAX_DIGITS:
        raise ValueError(f"has more than {_MAX_DIGITS} digits")
    whole, _, fraction = digits.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > 2:
        raise ValueError("has fractions of a cent")
    value = int(whole or "0") * 100 + int(fraction.ljust(2, "0"))
    if text[0] == "-":
        value = -value
    if len(CENTS_CACHE) >= _CACHE_SIZE:
        CENTS_CACHE.clear()
    CENTS_CACHE[text] = value
    return value


def quantity(text: str) -> Decimal:
    """A decimal quantity (units, CAS quantity), exactly."""
    if not text:
        raise ValueError("is required")
    if _DECIMAL.fullmatch(text) is None or len(text.lstrip("-").replace(".", "")) > _MAX_DIGITS:
        raise ValueError("is not a decimal number")
    return Decimal(text)


def ccyymmdd(text: str) -> date:
    """A D8 date (CCYYMMDD)."""
    try:
        return _dates[text]
    except KeyError:
        pass
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise ValueError("is not a date (CCYYMMDD)")
    try:
        value = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError("is not a calendar date") from None
    if len(_dates) >= _CACHE_SIZE:
        _dates.clear()
    _dates[text] = value
    return value


def remember(cache: dict[K, V], key: K, value: V) -> V:
    """Keep `value` in a parse cache, emptied when full so memory stays flat."""
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value
