"""X12 5010 interchange plumbing shared by every codec: delimiters, tokenizer, envelopes.

Pure functions, no I/O. Delimiters always come from the ISA segment, never assumed: the element
separator is its fourth character, ISA11 the repetition separator, ISA16 the component
separator, and the character right after ISA16 ends every segment. Real files pad the ISA
wrongly, so ISA16 is found by counting sixteen element separators, not by its fixed position.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# An element is a plain value, a composite (a tuple of components, joined with the component
# separator) or a repeated element (a list of values, joined with the repetition separator).
# Trailing empty elements and components are dropped, as X12 requires.
Element = str | tuple[str, ...] | list[str]
Segment = Sequence[Element]

_CONTROL_MAX = 999_999_999


class X12Error(ValueError):
    """The text is not a well-formed X12 interchange, or a value cannot be written.

    The message may quote the offending value (a name, an amount): show it to ops only and
    never log it. `where` says which segment without quoting anything, for the logs.
    """

    where: str | None = None


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    # What a value cannot hold: a delimiter, or anything but printable ASCII; and the same
    # without the element separator, which write_segment counts instead. Compiled once here:
    # looking them up for each segment was a quarter of the time a plain segment took.
    unwritable: re.Pattern[str] = field(init=False, repr=False, compare=False)
    unwritable_but_element: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        others = self.component + self.repetition + self.segment
        for name, chars in (
            ("unwritable", self.element + others),
            ("unwritable_but_element", others),
        ):
            pattern = re.compile(f"[{re.escape(chars)}]|[^\x20-\x7e]")
            object.__setattr__(self, name, pattern)

    def chars(self) -> str:
        return self.element + self.component + self.repetition + self.segment


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends an interchange to whom, and for which guide (ISA/GS identities)."""

    sender_id: str  # ISA06 / GS02
    receiver_id: str  # ISA08 / GS03
    functional_id: str  # GS01: HS 270, HB 271, HC 837, HP 835, FA 999, HN 277
    version: str  # GS08 and ST03, e.g. 005010X279A1
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage: str = "P"  # ISA15: P production, T test


@dataclass(frozen=True, slots=True)
class ControlNumbers:
    """ISA13, GS06 and the first ST02; each transaction set takes the next ST02."""

    interchange: int
    group: int
    transaction: int = 1

    def __post_init__(self) -> None:
        for name in ("interchange", "group", "transaction"):
            value = getattr(self, name)
            if not 1 <= value <= _CONTROL_MAX:
                raise X12Error(f"control number {name}={value} is outside 1..{_CONTROL_MAX}")


def read_delimiters(text: str) -> Delimiters:
    """The interchange's delimiters, read from its ISA segment."""
    start = _isa_start(text)
    element = text[start + 3]
    position = start + 3
    elements: list[str] = []  # ISA01..ISA15; `position` ends on the separator before ISA16
    for _ in range(15):
        following = text.find(element, position + 1)
        if following < 0:
            raise X12Error("the ISA segment has fewer than 16 elements")
        elements.append(text[position + 1 : following])
        position = following
    if position + 2 >= len(text):
        raise X12Error("the interchange ends inside the ISA segment")
    component, terminator = text[position + 1], text[position + 2]
    repetition = elements[10]  # ISA11
    delimiters = Delimiters(element, component, repetition, terminator)
    if len(set(delimiters.chars())) != 4 or len(repetition) != 1:
        raise X12Error(f"the ISA delimiters are not four distinct characters: {delimiters}")
    if any(c.isalnum() or c == " " for c in delimiters.chars()):
        raise X12Error(f"the ISA declares a letter, digit or space as a delimiter: {delimiters}")
    return delimiters


def _isa_start(text: str) -> int:
    start = len(text) - len(text.lstrip())
    if not text.startswith("ISA", start) or len(text) < start + 4:
        raise X12Error("an interchange starts with an ISA segment")
    return start


def segments(text: str, delimiters: Delimiters | None = None) -> Iterator[list[str]]:
    """Each segment as its list of elements (the segment id first); blank lines are skipped."""
    d = delimiters or read_delimiters(text)
    for raw in text[_isa_start(text) :].split(d.segment):
        # Files often put CR/LF after each terminator (or use CR LF as the terminator itself).
        stripped = raw.strip("\r\n")
        if stripped.strip():
            yield stripped.split(d.element)


def components(value: str, delimiters: Delimiters) -> list[str]:
    return value.split(delimiters.component)


def repeats(value: str, delimiters: Delimiters) -> list[str]:
    """The repetitions of a repeatable element (EB03 `1^33^MH`); an empty value has none."""
    return [part for part in value.split(delimiters.repetition) if part] if value else []


# Latin letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "Æ": "AE", "æ": "ae", "Ð": "D", "ð": "d", "Ø": "O", "ø": "o", "Þ": "TH", "þ": "th",
        "ß": "ss", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "ĸ": "k", "Ł": "L",
        "ł": "l", "Ŋ": "N", "ŋ": "n", "Œ": "OE", "œ": "oe", "Ŧ": "T", "ŧ": "t",
        "Ŀ": "L", "ŀ": "l", "ŉ": "n",
    }
)  # fmt: skip


def to_x12_letters(value: str) -> str:
    """Accented Latin letters as payers hold them, without accents (Peña -> Pena, Łódź -> Lodz).

    The input rule (schemas/common.py X12_SAFE) admits them in names; the X12 basic and
    extended sets do not, so every writer sends their base letters.
    """
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFKD", value.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _check_value(value: str, d: Delimiters) -> str:
    value = to_x12_letters(value)
    # One regex search for the common case: a loop over every character of every value was
    # most of the time a 270 took to write.
    if d.unwritable.search(value) is None:
        return value
    bad = [c for c in value if c in d.chars() or not c.isprintable() or not c.isascii()]
    if bad:
        raise X12Error(f"value {value!r} contains a delimiter or control character {bad[0]!r}")
    return value


def _trim(values: list[str]) -> list[str]:
    while values and values[-1] == "":
        values.pop()
    return values


def write_segment(segment: Segment, d: Delimiters) -> str:
    """One segment with its terminator, refusing any value that contains a delimiter."""
    # Nearly every value is printable ASCII without a delimiter, and checking each one was most
    # of an 837's time. A segment of plain values is joined first and checked once: no value
    # holds the element separator if the text has exactly one fewer than there are elements.
    # Composites and repeats are checked together in one search; anything else (accents to
    # convert, a bad value to name) takes the per-value path.
    try:
        text = d.element.join(segment)  # type: ignore[arg-type]  # composites raise TypeError
    except TypeError:  # a composite (tuple) or repeated (list) element
        return _write_mixed_segment(segment, d)
    if (
        d.unwritable_but_element.search(text) is None
        and text.count(d.element) == len(segment) - 1
        and segment[0]
    ):
        # The count above leaves no separator inside a value: these are all trailing empties.
        return text.rstrip(d.element) + d.segment
    return _write_checked_segment(segment, d)


def _write_mixed_segment(segment: Segment, d: Delimiters) -> str:
    values: list[str] = []
    parts: list[str] = []
    for element in segment:
        if isinstance(element, str):
            values.append(element)
            parts.append(element)
        elif isinstance(element, tuple):
            values.extend(element)
            parts.append(d.component.join(_trim(list(element))))
        else:
            values.extend(element)
            parts.append(d.repetition.join([r for r in element if r]))
    if d.unwritable.search("".join(values)) is not None:
        return _write_checked_segment(segment, d)
    return _finish_segment(parts, d)


def _write_checked_segment(segment: Segment, d: Delimiters) -> str:
    parts: list[str] = []
    for element in segment:
        if isinstance(element, tuple):
            parts.append(d.component.join(_trim([_check_value(c, d) for c in element])))
        elif isinstance(element, list):
            parts.append(d.repetition.join(_check_value(r, d) for r in element if r))
        else:
            parts.append(_check_value(element, d))
    return _finish_segment(parts, d)


def _finish_segment(parts: list[str], d: Delimiters) -> str:
    if not parts or not parts[0]:
        raise X12Error("a segment needs its id")
    return d.element.join(_trim(parts)) + d.segment


def _isa(envelope: Envelope, control: int, now: datetime, d: Delimiters) -> str:
    fixed = [
        ("ISA05", envelope.sender_qualifier, 2),
        ("ISA06", envelope.sender_id, 15),
        ("ISA07", envelope.receiver_qualifier, 2),
        ("ISA08", envelope.receiver_id, 15),
        ("ISA15", envelope.usage, 1),
    ]
    for name, value, width in fixed:
        if not value or len(value) > width:
            raise X12Error(f"{name} {value!r} must be 1 to {width} characters")
        _check_value(value, d)
    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        envelope.sender_qualifier.ljust(2),
        envelope.sender_id.ljust(15),
        envelope.receiver_qualifier.ljust(2),
        envelope.receiver_id.ljust(15),
        now.strftime("%y%m%d"),
        now.strftime("%H%M"),
        d.repetition,
        "00501",
        f"{control:09d}",
        "0",
        envelope.usage,
        d.component,
    ]
    return d.element.join(elements) + d.segment


def write_interchange(
    transactions: Sequence[tuple[str, Sequence[Segment]]],
    *,
    envelope: Envelope,
    control: ControlNumbers,
    now: datetime,
    delimiters: Delimiters = Delimiters(),
    line_breaks: bool = False,
) -> str:
    """ISA/GS, each transaction set as ST…SE, then GE/IEA, with exact counts.

    `transactions` holds (ST01 transaction set id, the segments between ST and SE). `now` is the
    interchange's clock (UTC), injected so files are reproducible.
    """
    if not transactions:
        raise X12Error("an interchange needs at least one transaction set")
    d = delimiters
    out = [_isa(envelope, control.interchange, now, d)]
    gs: Segment = (
        "GS",
        envelope.functional_id,
        envelope.sender_id,
        envelope.receiver_id,
        now.strftime("%Y%m%d"),
        now.strftime("%H%M"),
        str(control.group),
        "X",
        envelope.version,
    )
    out.append(write_segment(gs, d))
    for offset, (set_id, body) in enumerate(transactions):
        st02 = f"{control.transaction + offset:04d}"
        out.append(write_segment(("ST", set_id, st02, envelope.version), d))
        out.extend(write_segment(segment, d) for segment in body)
        out.append(write_segment(("SE", str(len(body) + 2), st02), d))
    out.append(write_segment(("GE", str(len(transactions)), str(control.group)), d))
    out.append(write_segment(("IEA", "1", f"{control.interchange:09d}"), d))
    newline = "\n" if line_breaks and d.segment not in "\r\n" else ""
    return newline.join(out) + newline


@dataclass(frozen=True, slots=True)
class TransactionSet:
    set_id: str  # ST01
    control: str  # ST02
    segments: list[list[str]]  # ST through SE


@dataclass(frozen=True, slots=True)
class Interchange:
    delimiters: Delimiters
    isa: list[str]
    gs: list[list[str]]
    transactions: list[TransactionSet]
    # Envelope mistakes read past in lenient mode (a count or control number that does not
    # match), each naming the element and the segment's position, never a value.
    warnings: list[str] = field(default_factory=list)


# One pass, one state machine over the segment tags (every 271 on the check path goes through
# it): split, its state would travel between functions and each segment would pay a call.
def read_interchange(text: str, *, lenient: bool = False) -> Interchange:  # noqa: C901  see above
    """Split an interchange into its transaction sets, checking every envelope count.

    Strict by default: a wrong SE01/GE01/IEA01 count or an SE02/GE02/IEA02 that does not match
    its ST02/GS06/ISA13 refuses the file (an 835 that moves money must add up). `lenient` reads
    past those mistakes, which published 271s often carry, and lists them in `warnings`; a file
    that is truncated, not X12, or has segments outside a transaction set is refused either way.
    """
    d = read_delimiters(text)
    isa: list[str] = []
    groups: list[list[str]] = []
    sets: list[TransactionSet] = []
    warnings: list[str] = []
    current: list[list[str]] | None = None
    in_group = ended = 0
    for position, seg in enumerate(segments(text, d), start=1):
        tag = seg[0]
        where = f"{tag} (segment {position})"
        if ended:
            raise X12Error(f"segment {tag} after IEA")
        if tag == "ISA":
            isa = seg
        elif tag == "GS":
            groups.append(seg)
            in_group = 0
        elif tag == "ST":
            current = [seg]
        elif current is not None:
            current.append(seg)
            if tag == "SE":
                st = current[0]
                _expect(seg, 1, str(len(current)), "SE01 segment count", where, warnings, lenient)
                _expect(seg, 2, _el(st, 2), "SE02 control number", where, warnings, lenient)
                sets.append(TransactionSet(_el(st, 1), _el(st, 2), current))
                in_group += 1
                current = None
        elif tag == "GE":
            gs06 = _el(groups[-1], 6) if groups else ""
            _expect(seg, 1, str(in_group), "GE01 transaction set count", where, warnings, lenient)
            _expect(seg, 2, gs06, "GE02 control number", where, warnings, lenient)
        elif tag == "IEA":
            _expect(seg, 1, str(len(groups)), "IEA01 group count", where, warnings, lenient)
            _expect(seg, 2, _el(isa, 13), "IEA02 control number", where, warnings, lenient)
            ended = 1
        else:
            raise X12Error(f"segment {tag} outside a transaction set")
    if current is not None or not ended:
        raise X12Error("the interchange is truncated (no SE or no IEA)")
    return Interchange(d, isa, groups, sets, warnings)


def _el(seg: list[str], index: int) -> str:
    return seg[index] if len(seg) > index else ""


def _expect(
    seg: list[str],
    index: int,
    wanted: str,
    what: str,
    where: str,
    warnings: list[str],
    lenient: bool,
) -> None:
    got = _el(seg, index)
    if got.lstrip("0") == wanted.lstrip("0"):
        return
    if not lenient:
        raise X12Error(f"{what} is {got!r}, expected {wanted!r}")
    # Control numbers and counts are not a person's data, but a warning is kept with a check
    # and shown: it says what is wrong and where, and quotes nothing.
    warnings.append(f"{what} in {where} does not match the envelope; read past it")
