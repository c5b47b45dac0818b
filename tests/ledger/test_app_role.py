"""As the application's least-privilege role: posting works, and the ledger is append-only by
privilege too (services/core/dbroles.py), not only by its triggers, which the owner could
disable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemas.ledger import AccountRef, EntryIn, Line
from services.core.dbroles import grant_app_role
from services.ledger import service as ledger
from tests.core.test_dbroles import drop_role, url_as
from tests.factories import make_claim, make_payer


@pytest.fixture
async def as_app(committed_db: str) -> AsyncIterator[asyncpg.Connection]:
    owner = await asyncpg.connect(committed_db)
    role, password = f"hearth_app_t{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    try:
        async with owner.transaction():
            await grant_app_role(owner, role, password)
        conn = await asyncpg.connect(url_as(committed_db, role, password))
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await drop_role(owner, role)
        await owner.close()


async def test_the_app_role_posts_and_cannot_rewrite_history(as_app: asyncpg.Connection) -> None:
    payer = (await make_payer(as_app)).id
    claim = await make_claim(as_app, payer)
    entry = EntryIn(
        kind="completion",
        idempotency_key="app-role-1",
        source_table="therapy_sessions",
        source_id=uuid.uuid4(),
        lines=(
            Line(
                account=AccountRef(kind="payer_receivable", owner_id=payer),
                side="debit",
                amount_cents=12_000,
                claim_id=claim,
            ),
            Line(account=AccountRef(kind="platform_revenue"), side="credit", amount_cents=12_000),
        ),
    )
    async with as_app.transaction():
        posted = await ledger.post_entry(as_app, entry)
    async with as_app.transaction():  # get-or-create needs no UPDATE: ON CONFLICT DO NOTHING
        assert await ledger.post_entry(as_app, entry) == posted
    for statement in (
        "UPDATE journal_lines SET amount_cents = 1",
        "DELETE FROM journal_lines",
        "UPDATE journal_entries SET memo = 'x'",
        "DELETE FROM journal_entries",
        "DELETE FROM ledger_accounts",
        "TRUNCATE journal_lines",
        "ALTER TABLE journal_lines DISABLE TRIGGER ALL",
    ):
        with pytest.raises(
            asyncpg.InsufficientPrivilegeError, match=r"permission denied|must be (the )?owner"
        ):
            await as_app.execute(statement)
    assert await ledger.get_claim_receivable(as_app, claim) == 12_000
