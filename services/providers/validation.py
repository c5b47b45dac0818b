"""Pure checks for provider identifiers: US state, tax id, CPT code; NPI and taxonomy from core."""

from __future__ import annotations

import re

from services.core.identifiers import is_valid_npi as is_valid_npi
from services.core.identifiers import is_valid_taxonomy as is_valid_taxonomy
from services.core.identifiers import luhn_check_digit as luhn_check_digit
from services.core.identifiers import npi_check_digit as npi_check_digit

_TAX_ID = re.compile(r"^(?:[0-9]{9}|[0-9]{2}-[0-9]{7}|[0-9]{3}-[0-9]{2}-[0-9]{4})$")
_CPT = re.compile(r"^[0-9]{5}$")

# The 50 states, DC and the inhabited territories (USPS codes).
US_STATES = frozenset(
    (
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
    )
)


def is_us_state(value: str) -> bool:
    return value in US_STATES


def normalize_tax_id(value: str) -> str | None:
    """An EIN (NN-NNNNNNN) or SSN (NNN-NN-NNNN) or 9 bare digits -> the 9 digits; else None."""
    if not _TAX_ID.fullmatch(value):
        return None
    digits = value.replace("-", "")
    # No valid EIN or SSN is all zeros; the rest of each issuer's rules change over time.
    return None if digits == "000000000" else digits


def is_valid_cpt(value: str) -> bool:
    """A CPT Category I code (five digits), the codes a self-pay rate is quoted for."""
    return _CPT.fullmatch(value) is not None
