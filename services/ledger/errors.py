"""Refusals of the ledger."""

from __future__ import annotations

from services.core.errors import Conflict, Unprocessable


class BadEntry(Unprocessable):
    """An entry the ledger cannot take: too few lines, an amount not positive, a bad account."""

    code = "bad_journal_entry"


class UnbalancedEntry(BadEntry):
    code = "unbalanced_journal_entry"


class EntryKeyReused(Conflict):
    """The idempotency key names an event already posted with other lines."""

    code = "journal_key_reused"
