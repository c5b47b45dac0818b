"""Reading one element of a segment, refusing with the element's name and the segment's place."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.remittance.x835.stream import X835Error
from services.remittance.x835.values import ccyymmdd, cents, quantity


def refuse(seg: list[str], index: int, position: int, reason: str) -> X835Error:
    return X835Error(f"{seg[0]}{index:02d} {reason}", seg[0], position)


def text(seg: list[str], index: int, position: int) -> str:
    """A required element."""
    if len(seg) > index and seg[index]:
        return seg[index]
    raise refuse(seg, index, position, "is required")


def optional(seg: list[str], index: int) -> str | None:
    return (seg[index] or None) if len(seg) > index else None


def money(seg: list[str], index: int, position: int) -> int:
    """A required amount, in signed cents."""
    try:
        return cents(seg[index])
    except IndexError:
        raise refuse(seg, index, position, "is required") from None
    except ValueError as exc:
        raise refuse(seg, index, position, str(exc)) from None


def optional_money(seg: list[str], index: int, position: int) -> int | None:
    if len(seg) > index and seg[index]:
        return money(seg, index, position)
    return None


def optional_quantity(seg: list[str], index: int, position: int) -> Decimal | None:
    if len(seg) > index and seg[index]:
        try:
            return quantity(seg[index])
        except ValueError as exc:
            raise refuse(seg, index, position, str(exc)) from None
    return None


def day(seg: list[str], index: int, position: int) -> date:
    """A required D8 date."""
    try:
        return ccyymmdd(text(seg, index, position))
    except ValueError as exc:
        raise refuse(seg, index, position, str(exc)) from None


def dollars(amount_cents: int) -> str:
    """Cents as the file writes them, for ops' messages: -12.05."""
    sign = "-" if amount_cents < 0 else ""
    return f"{sign}{abs(amount_cents) // 100}.{abs(amount_cents) % 100:02d}"
