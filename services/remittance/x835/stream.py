"""An X12 file as a stream of segments: chunks in, one chunk's segments out at a time.

Never holds the file: it reads CHUNK_CHARS at a time from a binary or text file object and
keeps only the unfinished segment between chunks. Delimiters come from the ISA by counting its
sixteen elements (core/x12.read_delimiters), after a UTF-8 byte-order mark; CR/LF around
segments and blank lines between them are skipped.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from itertools import chain
from typing import IO, AnyStr

from services.core.x12 import Delimiters, X12Error, read_delimiters

# A chunk's segments are lists the garbage collector tracks, alive together until the reader
# has taken them: 8 KiB keeps that crowd small (64 KiB chunks made the reader a fifth slower).
CHUNK_CHARS = 8 * 1024
# More than any ISA, however wrongly padded (a well-formed one is 106 characters).
_HEAD_CHARS = 1024
# No 835 segment comes near this: text without a terminator this long is not X12 (or uses
# another terminator than its ISA says), and buffering it would let one file take the memory.
MAX_SEGMENT_CHARS = 64 * 1024


class X835Error(X12Error):
    """A refused 835 file: the message names the segment id and its position (ISA = 1).

    `where` ("CLP (segment 57)") quotes nothing and may be logged; the message may quote an
    amount (never an identifier or a name) and is for ops.
    """

    def __init__(self, message: str, segment: str, position: int) -> None:
        self.segment = segment
        self.position = position
        self.where = f"{segment} (segment {position})" if segment else f"segment {position}"
        super().__init__(f"{self.where}: {message}")


def _chunks(stream: IO[AnyStr]) -> Iterator[str]:
    """The file's text, chunk by chunk: bytes are UTF-8 (ASCII in practice), a BOM dropped."""
    first = stream.read(CHUNK_CHARS)
    if isinstance(first, bytes):
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk: bytes = first.removeprefix(codecs.BOM_UTF8)
        while chunk:
            yield decoder.decode(chunk)
            chunk = stream.read(CHUNK_CHARS)
        yield decoder.decode(b"", final=True)
        return
    text: str = first.removeprefix("\ufeff")
    while text:
        yield text
        text = stream.read(CHUNK_CHARS)


def _head(chunks: Iterator[str]) -> str:
    head = ""
    for chunk in chunks:
        head += chunk
        if len(head) >= _HEAD_CHARS:
            break
    return head


def open_segments(stream: IO[AnyStr]) -> tuple[Delimiters, Iterator[list[list[str]]]]:
    """The file's delimiters and its segments in batches (a chunk's worth), each segment a list
    of its elements, the id first.

    Refuses at once what does not start with an ISA (after a BOM and white space) or has an
    ISA without sixteen elements, distinct delimiters and version 00501.
    """
    chunks = _chunks(stream)
    try:
        head = _head(chunks)
    except UnicodeDecodeError:
        raise X835Error("the file is not X12 text (not ASCII or UTF-8)", "", 1) from None
    start = len(head) - len(head.lstrip())
    if not head.startswith("ISA", start):
        raise X835Error("the file is not an X12 interchange: it does not start with ISA", "", 1)
    try:
        d = read_delimiters(head)
    except X12Error as exc:
        raise X835Error(str(exc), "ISA", 1) from None
    if d.element in "\r\n":
        raise X835Error("a line break cannot separate elements", "ISA", 1)
    return d, _batches(head[start:], chunks, d)


def _batches(head: str, chunks: Iterator[str], d: Delimiters) -> Iterator[list[list[str]]]:
    terminator, separator = d.segment, d.element
    # CR and LF never belong to a value: unless one is a delimiter, drop them all at once.
    drop_breaks = not {"\r", "\n"} & set(d.chars())
    rest = ""
    count = 0
    source = chain((head,), chunks)
    while True:
        try:
            chunk = next(source)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise X835Error(
                "the file is not X12 text (not ASCII or UTF-8)", "", count + 1
            ) from None
        text = rest + chunk
        if drop_breaks:
            text = text.replace("\n", "").replace("\r", "")
        parts = text.split(terminator)
        rest = parts.pop()
        if not drop_breaks:
            parts = [raw.strip("\r\n") for raw in parts]
        batch = [raw.split(separator) for raw in parts if raw and not raw.isspace()]
        count += len(batch)
        yield batch
        if len(rest) > MAX_SEGMENT_CHARS:
            tag = rest.lstrip().split(separator, 1)[0][:3]
            raise X835Error(
                "no segment terminator: the file is truncated or not X12", tag, count + 1
            )
    if rest.strip():
        tag = rest.strip().split(separator, 1)[0][:3]
        raise X835Error("the file is truncated: the last segment has no terminator", tag, count + 1)
