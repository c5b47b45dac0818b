"""Small PDF documents (superbills, statements) with fpdf2: a page, headings, text, label and
value pairs, tables. No domain knowledge: callers pass words and numbers already formatted.

The built-in PDF fonts (Helvetica) cover Latin-1 only, and embedding a TrueType font would
ship a font file with the code: other Latin letters (Łukasz) are written without their
accents, as the X12 files write names (services/core/x12.py).

fpdf2 is imported when a document is made, not with this module: it takes about 2 s to import
(its fonts), which every worker start paid before its first job, a PDF or not (the SIGKILL
suites restart a worker hundreds of times).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from services.core.x12 import to_x12_letters

Align = Literal["L", "R", "C"]

_FONT = "Helvetica"
_LINE = 5.0


def usd(cents: int) -> str:
    """Integer cents as a document prints them: $1,234.50, -$20.00."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def latin1(value: str) -> str:
    """The text as the built-in fonts can write it: letters Latin-1 lacks without their
    accents (as payers get them), anything else still unwritable as '?'."""
    return (
        "".join(c if c.isascii() or _writable(c) else to_x12_letters(c) or "?" for c in value)
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def _writable(char: str) -> bool:
    try:
        char.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class Document:
    """One US Letter portrait document, written top to bottom."""

    def __init__(self, title: str, created_at: datetime, *, author: str = "") -> None:
        from fpdf import FPDF
        from fpdf.enums import XPos, YPos

        # The next line starts at the left margin, below (fpdf2's new_x / new_y).
        self._below: dict[str, Any] = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
        self._pdf = FPDF(orientation="portrait", unit="mm", format="letter")
        self._pdf.set_auto_page_break(auto=True, margin=15)
        self._pdf.set_margins(15, 15, 15)
        # The document's own dates come from the caller's clock: the same input, the same file.
        self._pdf.set_creation_date(created_at)
        self._pdf.set_title(latin1(title))
        if author:
            self._pdf.set_author(latin1(author))
        self._pdf.add_page()

    def title(self, text: str) -> None:
        self._pdf.set_font(_FONT, "B", 16)
        self._pdf.cell(0, 9, latin1(text), **self._below)
        self._pdf.ln(2)

    def heading(self, text: str) -> None:
        self._pdf.ln(3)
        self._pdf.set_font(_FONT, "B", 11)
        self._pdf.cell(0, 7, latin1(text), **self._below)

    def text(self, text: str, *, size: float = 10, bold: bool = False) -> None:
        """A paragraph, wrapped at the margins."""
        self._pdf.set_font(_FONT, "B" if bold else "", size)
        self._pdf.multi_cell(0, _LINE, latin1(text), **self._below)

    def pairs(self, rows: Sequence[tuple[str, str]], *, label_width: float = 45) -> None:
        """Label and value rows (`NPI  1234567893`)."""
        for label, value in rows:
            self._pdf.set_font(_FONT, "B", 10)
            self._pdf.cell(label_width, _LINE, latin1(label))
            self._pdf.set_font(_FONT, "", 10)
            self._pdf.multi_cell(0, _LINE, latin1(value), **self._below)

    def table(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[float] | None = None,
        align: Sequence[Align] | None = None,
        size: float = 9,
    ) -> None:
        """A bordered table, its heading row repeated on each page it spans."""
        self._pdf.set_font(_FONT, "", size)
        aligns = list(align) if align is not None else ["L"] * len(headings)
        with self._pdf.table(
            col_widths=tuple(widths) if widths is not None else None,
            text_align=tuple(aligns),
            line_height=_LINE,
            first_row_as_headings=True,
            repeat_headings=1,
        ) as table:
            for cells in [headings, *rows]:
                row = table.row()
                for cell in cells:
                    row.cell(latin1(cell))

    def space(self, mm: float = 4) -> None:
        self._pdf.ln(mm)

    def output(self) -> bytes:
        return bytes(self._pdf.output())
