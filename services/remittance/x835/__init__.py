"""The streaming 835 (005010X221A1) reader: one transaction set at a time, never the whole file.

Two ways to read a file, and the posting must take the first:

- `read_835(stream)` validates the whole file first (every envelope count, every balance, the
  file's end), then returns its summary and an iterator that reads it again from where it
  started and yields each transaction. A refused file raises X835Error before anything is
  yielded, so nothing of it is posted. The stream must be seekable (an uploaded body in a
  BytesIO or a spooled temporary file, a downloaded file on disk); reading twice costs a second
  parse, not memory.
- `iter_835(stream)` reads once and yields each transaction as soon as its own SE closed and its
  claims balanced. A file whose later part is wrong (a truncated end, a GE or IEA count) raises
  only after earlier transactions were yielded: a caller that uses it must hold everything it
  did with the file in one database transaction and roll it back on X835Error.

Memory stays flat as files grow: the reader keeps one unfinished segment and one transaction's
claims, never the file (a transaction is the posting's unit; payers cap their size).
"""

from services.remittance.x835.reader import iter_835, read_835, validate_835
from services.remittance.x835.stream import X835Error

__all__ = ["X835Error", "iter_835", "read_835", "validate_835"]
