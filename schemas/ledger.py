"""The double-entry ledger: account kinds, entries to post, and what comes back out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Final, Literal, get_args

import msgspec
from msgspec import Meta

from schemas.common import Out

# DESIGN.md "Money". The first three belong to one client, payer or provider; the rest are
# the platform's own, one of each.
AccountKind = Literal[
    "client_receivable",
    "payer_receivable",
    "provider_payable",
    "payouts_in_transit",
    "stripe_balance",
    "payer_clearing",
    "bank",
    "platform_revenue",
    "provider_rate_subsidy",
    "contractual_adjustment",
    "claim_losses",
    "processing_fees",
    "interest_income",
    "unapplied_cash",
    "bad_debt",
]
ACCOUNT_KINDS: Final[tuple[AccountKind, ...]] = get_args(AccountKind)
OwnerTable = Literal["clients", "payers", "providers"]
OWNED_KINDS: Final[dict[AccountKind, OwnerTable]] = {
    "client_receivable": "clients",
    "payer_receivable": "payers",
    "provider_payable": "providers",
}
# A balance is shown with the sign of the account's normal side: debits - credits for assets
# and expenses, credits - debits for liabilities and revenue, so a provider we owe $90 has a
# provider_payable balance of +9000, not -9000.
CREDIT_NORMAL: Final[frozenset[AccountKind]] = frozenset(
    {
        "provider_payable",  # owed to the provider
        "payouts_in_transit",  # owed to the provider, transfer under way
        "unapplied_cash",  # received, not yet matched to anything
        "platform_revenue",
        "interest_income",
    }
)

# The events that post; the migration's CHECK (journal_entries_kind) lists the same.
EntryKind = Literal[
    "completion",
    "completion_edited",
    "card_captured",
    "claim_remitted",
    "provider_adjustment",
    "unmatched_remittance",
    "eft_received",
    "refund",
    "refund_failed",
    "dispute_opened",
    "dispute_won",
    "bad_debt",
    "recoupment",
    "payout_frozen",
    "payout_transferred",
    "transfer_reversed",
    "top_up",
    "claim_corrected",
    "claim_voided",
    "true_up_carried",
    "payout_cancelled",
]
Side = Literal["debit", "credit"]
# At most $1,000,000,000.00 on one line: far above any event, far below BIGINT.
MAX_LINE_CENTS: Final = 100_000_000_000
LineCents = Annotated[int, Meta(gt=0, le=MAX_LINE_CENTS)]
IdempotencyKey = Annotated[str, Meta(pattern=r"^[!-~]{1,200}$")]
SourceTable = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Memo = Annotated[str, Meta(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]


class AccountRef(msgspec.Struct, frozen=True, kw_only=True):
    """An account by what it is: `owner_id` for the owned kinds only."""

    kind: AccountKind
    owner_id: uuid.UUID | None = None


class Line(msgspec.Struct, frozen=True, kw_only=True):
    account: AccountRef
    side: Side
    amount_cents: LineCents
    claim_id: uuid.UUID | None = None  # required on payer_receivable lines


class EntryIn(msgspec.Struct, frozen=True, kw_only=True):
    """One money event to post. The key names the event: posting it again is a no-op."""

    kind: EntryKind
    idempotency_key: IdempotencyKey
    source_table: SourceTable
    source_id: uuid.UUID
    lines: Annotated[tuple[Line, ...], Meta(max_length=100)]  # 2 or more: post_entry says so
    memo: Memo = ""  # for ops; never PHI
    occurred_at: datetime | None = None  # None: the clock's now


class Pair(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of post_pairs' batch: `amount_cents` from the debit account to the credit one,
    posted under the key `{kind}-{source_id}`; the owners of the two accounts where owned."""

    source_id: uuid.UUID
    amount_cents: LineCents
    debit_owner: uuid.UUID | None = None
    credit_owner: uuid.UUID | None = None


class LineOut(Out):
    id: int
    account_id: int
    kind: AccountKind
    owner_id: uuid.UUID | None
    side: Side
    amount_cents: int
    claim_id: uuid.UUID | None


class EntryOut(Out):
    id: int
    kind: EntryKind
    idempotency_key: str
    occurred_at: datetime
    created_at: datetime
    memo: str
    source_table: str
    source_id: uuid.UUID
    lines: list[LineOut]


class AccountRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: AccountKind
    owner_id: uuid.UUID | None


class AccountTotals(msgspec.Struct, frozen=True, kw_only=True):
    """An account's sums of debits and credits, read from its lines."""

    account_id: int | None  # None: no such account yet (no line either)
    kind: AccountKind
    owner_id: uuid.UUID | None
    debits_cents: int
    credits_cents: int


class AccountBalance(Out):
    account_id: int | None  # None: the account has no line yet, nor a row
    kind: AccountKind
    owner_id: uuid.UUID | None
    debits_cents: int
    credits_cents: int
    balance_cents: int  # signed by the kind's normal side (CREDIT_NORMAL)


class TrialBalance(Out):
    """Σ debits - Σ credits over every account: zero, or the ledger is broken."""

    debits_cents: int
    credits_cents: int
    imbalance_cents: int
    accounts: list[AccountBalance]
