"""Check digits and code formats of US health-care identifiers (NPI, taxonomy); pure."""

from __future__ import annotations

import re

# CMS: the NPI check digit is the Luhn digit of the 9-digit prefix behind the card issuer
# prefix 80840 (health applications in the US). Adding 24 to the doubled-digit sum does the same.
_NPI_PREFIX = "80840"
_NPI = re.compile(r"^[12][0-9]{9}$")
_TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")


def luhn_check_digit(digits: str) -> int:
    """The digit that makes `digits` + it pass the Luhn check."""
    total = 0
    # Double every second digit counting from the right of the payload (the check digit's
    # neighbour first).
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_check_digit(first_nine: str) -> int:
    return luhn_check_digit(_NPI_PREFIX + first_nine)


def is_valid_npi(value: str) -> bool:
    """10 ASCII digits, first 1 (individual) or 2 (organization), CMS Luhn check digit."""
    if not _NPI.fullmatch(value):
        return False
    return npi_check_digit(value[:9]) == int(value[9])


def is_valid_taxonomy(value: str) -> bool:
    """NUCC Health Care Provider Taxonomy: 9 upper-case alphanumerics then X."""
    return _TAXONOMY.fullmatch(value) is not None
