"""What 0050's checks keep of payout_lines' foreign keys: the database itself refuses an entry
covered twice for a provider, a line pointing at no entry or at another provider's payout, and
any change to a frozen line or the payout it belongs to."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")

_COPY = """
INSERT INTO payout_lines (payout_id, provider_id, entry_id, amount_cents)
SELECT $1, $2, $3, amount_cents FROM payout_lines WHERE payout_id = $4 LIMIT 1
"""


async def _two_payouts(db: asyncpg.Connection, api: httpx.AsyncClient, token: Any) -> list[Any]:
    for cents in (10_000, 20_000):
        provider = await r.provider_owed(db, api, token, [cents])
        await r.run(db, provider_id=provider.provider_id)
    return await db.fetch(
        "SELECT p.id, p.provider_id, l.entry_id FROM payouts p "
        "JOIN payout_lines l ON l.payout_id = p.id ORDER BY p.amount_cents"
    )


async def test_an_entry_is_covered_once_and_each_line_points_at_its_payout_and_entry(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    first, second = await _two_payouts(db, api, token)
    with pytest.raises(asyncpg.UniqueViolationError):  # the entry again, for its provider
        async with db.transaction():
            await db.execute(_COPY, second["id"], first["provider_id"], first["entry_id"],
                             first["id"])  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout"):  # another's payout
        async with db.transaction():
            await db.execute(_COPY, second["id"], first["provider_id"], second["entry_id"],
                             first["id"])  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout"):  # no payout
        async with db.transaction():
            await db.execute(_COPY, uuid.uuid4(), first["provider_id"], second["entry_id"],
                             first["id"])  # fmt: skip
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="journal entry"):  # no entry
        async with db.transaction():
            await db.execute(_COPY, first["id"], first["provider_id"], 2**62, first["id"])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payout_lines SET entry_id = entry_id + 1",
        "DELETE FROM payout_lines",
        "TRUNCATE payout_lines",
        "DELETE FROM payouts",
        "UPDATE payouts SET provider_id = gen_random_uuid()",
        "UPDATE payouts SET id = gen_random_uuid()",
        "TRUNCATE payouts CASCADE",
    ],
)
async def test_frozen_lines_and_their_payouts_cannot_be_changed_or_removed(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, statement: str
) -> None:
    await _two_payouts(db, api, token)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="refused"):
        await db.execute(statement)
