"""Helpers of the payouts tests: providers with tokens, ledger entries as events post them,
and the outbox's payouts jobs run by hand."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.ledger import AccountRef, EntryIn, EntryKind, Line
from services.core.transactions import Transactions
from services.ledger.service import post_entry
from services.payments.gateway import StripeGateway
from services.payouts.connect import ConnectGateway
from services.payouts.top_ups import create_top_up
from tests.payments.world import open_outbox


def payable(provider_id: uuid.UUID, side: str, cents: int) -> Line:
    return Line(account=AccountRef(kind="provider_payable", owner_id=provider_id),
                side=side, amount_cents=cents)  # type: ignore[arg-type]  # fmt: skip


async def session_entry(
    db: asyncpg.Connection, provider_id: uuid.UUID, session_id: uuid.UUID, cents: int,
    at: datetime, kind: EntryKind = "completion",
) -> None:  # fmt: skip
    """A session's completion (or edit) as the therapy-sessions domain posts it: the
    provider's rate owed, the platform's revenue the other side (a positive `cents` raises
    what is owed, a negative one lowers it)."""
    side, other = ("credit", "debit") if cents > 0 else ("debit", "credit")
    await post_entry(db, EntryIn(
        kind=kind, idempotency_key=f"{kind}-{session_id}-{at.timestamp()}",
        source_table="therapy_sessions", source_id=session_id, occurred_at=at,
        lines=(payable(provider_id, side, abs(cents)),
               Line(account=AccountRef(kind="platform_revenue"), side=other,
                    amount_cents=abs(cents))),  # type: ignore[arg-type]
    ))  # fmt: skip


async def recoupment(db: asyncpg.Connection, provider_id: uuid.UUID, cents: int,
                     at: datetime) -> None:  # fmt: skip
    """A recoupment as remittance posts it: Dr provider_payable, Cr claim_losses."""
    source = uuid.uuid4()
    await post_entry(db, EntryIn(
        kind="recoupment", idempotency_key=f"recoup-{source}", source_table="remitted_claims",
        source_id=source, occurred_at=at,
        lines=(payable(provider_id, "debit", cents),
               Line(account=AccountRef(kind="claim_losses"), side="credit", amount_cents=cents)),
    ))  # fmt: skip


async def run_top_ups(
    db: asyncpg.Connection, tx: Transactions, gateway: StripeGateway
) -> list[str]:
    connect = ConnectGateway.of(gateway)
    return [await create_top_up(tx, connect, n) for n in await open_outbox(db, "create_top_up")]
