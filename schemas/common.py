"""Shared schema building blocks: the request base, bounded strings, money, ids."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

# PostgreSQL text cannot hold NUL, and no field of ours needs a control character.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request bodies: unknown fields are refused, never silently dropped."""


class Out(msgspec.Struct, kw_only=True):
    """Response bodies."""


# Every value that can end up in an X12 file (names, ids, addresses): the X12 basic character
# set (A-Z 0-9 space ! " & ' ( ) * + , - . / : ; ? =) and the extended one (a-z % @ [ ] _ { } \ |
# < > # $ ~), less the delimiters Hearth writes with (element *, component :, repetition ^,
# segment ~). A delimiter inside a value would split or end a segment, and a payer file cannot
# carry other characters: refuse them here, where the caller can still correct the value.
# Latin letters with accents (José Peña, Müller, Łukasz) are people's real names: they are
# accepted and stored as written, and the writers send them without their accents (PENA),
# as payers' own systems hold them (services/core/x12.py, to_x12_letters). The X12 "select
# language characters" exist only by agreement between trading partners, so none are sent.
X12_SAFE = (
    r"^[A-Za-z0-9 !\"&'()+,./;?=%@\[\]_{}\\|<>#$"
    r"\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f-]*$"  # Latin-1 and Latin Extended-A letters
)
X12_REFUSED_HINT = (
    "letters (accented Latin letters are sent to payers without their accents), digits, spaces"
    " and ! \" & ' ( ) + , - . / ; ? = % @ [ ] _ { } | < > # $"
)
# Identifiers payers assign (member, group numbers): a letter or digit, then letters, digits,
# spaces and hyphens.
X12_ID = r"^[A-Za-z0-9][A-Za-z0-9 \-]*$"
X12_ID_HINT = "a letter or digit, then letters, digits, spaces and -"
# pattern -> what it admits, for the error message (services/core/errors.py)
X12_PATTERNS = {X12_SAFE: X12_REFUSED_HINT, X12_ID: X12_ID_HINT}


def text(max_length: int, min_length: int = 1, pattern: str = _PRINTABLE) -> Meta:
    return Meta(min_length=min_length, max_length=max_length, pattern=pattern)


def x12_text(max_length: int, min_length: int = 1) -> Meta:
    """A bounded string that an X12 file can carry as one element (see X12_SAFE)."""
    return Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=X12_SAFE,
        description=f"X12-safe text: {X12_REFUSED_HINT}",
    )


# People's and organizations' names go into 270s and claims (NM1), so they are X12-safe.
Name = Annotated[str, x12_text(100)]
ShortText = Annotated[str, text(200)]
LongText = Annotated[str, text(2000)]
Email = Annotated[
    str,
    Meta(
        max_length=254, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
    ),
]
Password = Annotated[str, Meta(min_length=12, max_length=256, pattern=_PRINTABLE)]
Token = Annotated[str, Meta(min_length=16, max_length=512, pattern=r"^[A-Za-z0-9_\-.]+$")]
Cents = Annotated[int, Meta(ge=0, le=100_000_000)]  # at most $1,000,000.00 on one line
UsState = Annotated[
    str,
    Meta(
        pattern=r"^(A[KLRZS]|C[AOT]|D[CE]|FL|G[AU]|HI|I[ADLN]|K[SY]|LA|M[ADEINOPST]|N[CDEHJMVY]|O[HKR]|P[AR]|RI|S[CD]|T[NX]|UT|V[AIT]|W[AIVY])$"
    ),
]
Zip = Annotated[str, Meta(pattern=r"^\d{5}(\d{4})?$")]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9]{10,15}$")]
Limit = Annotated[int, Meta(ge=1, le=200)]


class Address(Base, kw_only=True):
    """A postal address; claims carry it in N3/N4, so every part is X12-safe."""

    line1: Annotated[str, x12_text(200)]
    line2: Annotated[str, x12_text(200, min_length=0)] | None = None
    city: Name
    state: UsState
    zip: Zip
