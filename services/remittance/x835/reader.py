"""The envelopes around 835 transactions: ISA/IEA, GS/GE, ST/SE, their counts and control numbers.

Several interchanges, groups and transaction sets may share a file. Refused, naming the segment
and its position: a group that is not an 835 (GS01 HP, GS08 005010X221A1), a segment outside a
transaction set, a GE01 or IEA01 count or a GE02 or IEA02 control number that does not match,
and a file that ends before its last IEA (truncated).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import IO, AnyStr

from schemas.remittance import Envelope, FileSummary, Remittance
from services.remittance.x835 import elements as el
from services.remittance.x835.claim import TRUNCATED
from services.remittance.x835.stream import X835Error, open_segments
from services.remittance.x835.transaction import TransactionBuilder

VERSION = "005010X221A1"
_ISA_ELEMENTS = 16
_ENVELOPE_TAGS = frozenset({"ISA", "GS", "ST", "GE", "IEA"})


class _Reader:
    """One pass over a file; its counts are read after the pass."""

    def __init__(self, stream: IO[AnyStr]) -> None:
        self.delimiters, self._batches = open_segments(stream)
        self.state = "start"  # start | interchange | group | ended
        self.isa: list[str] = []
        self.gs: list[str] = []
        self.envelope: Envelope | None = None
        self.interchanges = self.groups = self.segments = 0
        self._groups_in_interchange = self._sets_in_group = 0

    # The hot loop over every segment outside claims; a claim's segments (most of a file) are
    # read by claim.read_claim from the same numbered iterator, which hands back the segment
    # that closed the claim: no segment is looked at twice, none is gathered in a list.
    def remittances(self) -> Iterator[Remittance]:
        builder: TransactionBuilder | None = None
        segments = enumerate(chain.from_iterable(self._batches), 1)
        position, seg = 0, ["ISA"]
        for position, seg in segments:
            if builder is None:
                if seg[0] == "ST":
                    builder = self._open_transaction(seg, position)
                else:
                    self._envelope(seg, position)
                continue
            while seg[0] == "CLP":
                position, seg = builder.read_claim(seg, position, segments)
            if seg[0] == "SE":
                yield builder.finish(seg, position)
                builder = None
                self._sets_in_group += 1
            elif seg[0] in _ENVELOPE_TAGS:
                raise X835Error("comes before the transaction's SE", seg[0], position)
            else:
                builder.feed(seg, position)
        self.segments = position
        if builder is not None or self.state != "ended":
            raise X835Error(TRUNCATED, seg[0], position)

    def _expect(self, state: str, seg: list[str], position: int) -> None:
        if self.state != state:
            raise X835Error("is out of place in the envelope (ISA, GS, ST..SE, GE, IEA)", seg[0],
                            position)  # fmt: skip

    def _envelope(self, seg: list[str], position: int) -> None:
        tag = seg[0]
        if tag == "ISA":
            self._open_interchange(seg, position)
        elif tag == "GS":
            self._open_group(seg, position)
        elif tag == "GE":
            self._expect("group", seg, position)
            _matches(seg, 1, str(self._sets_in_group), position, "the group's transaction sets")
            _matches(seg, 2, self.gs[6], position, "GS06")
            self.groups += 1
            self._groups_in_interchange += 1
            self.state = "interchange"
        elif tag == "IEA":
            self._expect("interchange", seg, position)
            _matches(seg, 1, str(self._groups_in_interchange), position, "the groups")
            _matches(seg, 2, self.isa[13], position, "ISA13")
            self.interchanges += 1
            self.state = "ended"
        else:
            raise X835Error("is outside a transaction set (ST..SE)", tag, position)

    def _open_interchange(self, seg: list[str], position: int) -> None:
        if self.state not in ("start", "ended"):
            raise X835Error("comes before the previous interchange's IEA", "ISA", position)
        if len(seg) != _ISA_ELEMENTS + 1 or seg[16] != self.delimiters.component:
            raise X835Error("does not have the first ISA's sixteen elements and delimiters",
                            "ISA", position)  # fmt: skip
        if seg[12] != "00501":
            raise el.refuse(seg, 12, position, "is not 00501 (X12 5010)")
        self.isa = seg
        self._groups_in_interchange = 0
        self.state = "interchange"

    def _open_group(self, seg: list[str], position: int) -> None:
        self._expect("interchange", seg, position)
        if el.text(seg, 1, position) != "HP":
            raise el.refuse(seg, 1, position, "is not HP: the group holds no 835")
        if el.text(seg, 8, position) != VERSION:
            raise el.refuse(seg, 8, position, f"is not {VERSION}")
        self.gs = seg
        self.envelope = Envelope(
            interchange_control=self.isa[13],
            sender_id=self.isa[6].strip(),
            receiver_id=self.isa[8].strip(),
            group_control=el.text(seg, 6, position),
            application_sender=el.text(seg, 2, position),
            application_receiver=el.text(seg, 3, position),
        )
        self._sets_in_group = 0
        self.state = "group"

    def _open_transaction(self, seg: list[str], position: int) -> TransactionBuilder:
        self._expect("group", seg, position)
        if el.text(seg, 1, position) != "835":
            raise el.refuse(seg, 1, position, "is not 835")
        if el.optional(seg, 3) not in (None, VERSION):
            raise el.refuse(seg, 3, position, f"is not {VERSION}")
        assert self.envelope is not None
        return TransactionBuilder(self.envelope, seg, position, self.delimiters)


def _matches(seg: list[str], index: int, wanted: str, position: int, what: str) -> None:
    if el.text(seg, index, position) != wanted:
        raise el.refuse(seg, index, position, f"does not match {what} ({wanted})")


def iter_835(stream: IO[AnyStr]) -> Iterator[Remittance]:
    """Each transaction of the file once its SE closed and it balanced (see the package doc)."""
    return _Reader(stream).remittances()


def validate_835(stream: IO[AnyStr]) -> FileSummary:
    """Read the whole file, checking everything and keeping nothing but counts."""
    reader = _Reader(stream)
    transactions = claims = payment = warnings = 0
    for remittance in reader.remittances():
        transactions += 1
        claims += remittance.totals.claims
        payment += remittance.totals.payment_cents
        warnings += len(remittance.warnings)
    return FileSummary(
        interchanges=reader.interchanges,
        groups=reader.groups,
        transactions=transactions,
        segments=reader.segments,
        claims=claims,
        payment_cents=payment,
        warnings=warnings,
    )


def read_835(stream: IO[AnyStr]) -> tuple[FileSummary, Iterator[Remittance]]:
    """Validate the whole file, then read it again from the same place, one transaction at a
    time: a refused file raises here, before anything is yielded. The stream must be seekable.
    """
    if not stream.seekable():
        raise TypeError("read_835 reads the file twice: give it a seekable stream")
    start = stream.tell()
    summary = validate_835(stream)
    stream.seek(start)
    return summary, iter_835(stream)
