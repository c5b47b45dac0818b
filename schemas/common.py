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


def text(max_length: int, min_length: int = 1, pattern: str = _PRINTABLE) -> Meta:
    return Meta(min_length=min_length, max_length=max_length, pattern=pattern)


Name = Annotated[str, text(100)]
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
    line1: ShortText
    line2: Annotated[str, text(200, min_length=0)] | None = None
    city: Name
    state: UsState
    zip: Zip
