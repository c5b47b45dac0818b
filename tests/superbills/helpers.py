"""Shared helpers of the superbill tests: paid self-pay and out-of-network sessions."""

from __future__ import annotations

import io
import uuid
from zoneinfo import ZoneInfo

import asyncpg
import pypdf

from schemas.eligibility import Benefits, TierBenefits
from services.core import clock
from tests.payments import world as w
from tests.therapy_sessions.completion import Visit, arrange, benefit_check, complete

PDF = {"Accept": "application/pdf"}


async def paid(c: w.Charging, visit: Visit) -> None:
    """The visit's client saves a card, the session is completed and its charge run."""
    await w.save_card(c.db, c.api, c.tx, c.gateway, c.sdk, visit.client,
                      c.settings.stripe_webhook_secret)  # fmt: skip
    await complete(c.api, c.token, visit)
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]


async def self_pay(c: w.Charging) -> Visit:
    """A self-pay session (no policy) completed and paid."""
    visit = await arrange(c.db, c.settings, insured=False)
    await paid(c, visit)
    return visit


async def out_of_network(c: w.Charging) -> Visit:
    """A session booked under a plan whose benefit is only out of network, completed, paid."""
    visit = await arrange(c.db, c.settings)
    oon = TierBenefits(covered=True, coinsurance=None)
    await benefit_check(c.db, visit, Benefits(status="active", trace="T1", out_of_network=oon))
    await paid(c, visit)
    return visit


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def month_of_now(tz: str) -> str:
    return f"{clock.now().astimezone(ZoneInfo(tz)):%Y-%m}"


async def ledger_billed(db: asyncpg.Connection, session_id: uuid.UUID) -> int:
    """The session's net on the client's receivable, straight from the journal."""
    cents: int = await db.fetchval(
        "SELECT coalesce(sum(CASE WHEN l.side = 'debit' THEN l.amount_cents"
        " ELSE -l.amount_cents END), 0) FROM journal_entries e"
        " JOIN journal_lines l ON l.entry_id = e.id JOIN ledger_accounts a ON a.id = l.account_id"
        " WHERE e.source_id = $1 AND a.kind = 'client_receivable'",
        session_id,
    )
    return cents


async def charged(db: asyncpg.Connection, session_id: uuid.UUID) -> int:
    cents: int = await db.fetchval(
        "SELECT coalesce(sum(amount_cents), 0) FROM client_charges"
        " WHERE source_id = $1 AND status = 'succeeded'",
        session_id,
    )
    return cents
