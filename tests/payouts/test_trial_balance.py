"""The trial balance for ops and its daily check: zero on the real ledger, and the alarm (an
ERROR log, an unbalanced check row, the gauge the API's /metrics reads from it) when the ledger
was written around its checks.

The database refuses an unbalanced entry at COMMIT, so the alarm test writes one the only way
left: with triggers off (`session_replication_role = replica`, as a restore or a hand-made fix
would), inside the test's transaction, which is rolled back and never commits.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.ledger import AccountRef
from services.core import clock
from services.ledger.service import get_or_create_accounts
from services.payouts import trial_balance
from tests import factories as f
from tests.payouts import world as w
from workers.jobs.payouts import check_trial_balance


async def _unbalanced_line(db: asyncpg.Connection, cents: int) -> None:
    (account,) = (await get_or_create_accounts(db, [AccountRef(kind="stripe_balance")])).values()
    await db.execute("SET session_replication_role = replica")
    entry = await db.fetchval(
        """
        INSERT INTO journal_entries (kind, idempotency_key, occurred_at, source_table, source_id,
                                     created_xact)
        VALUES ('top_up', $1, $2, 'platform_top_ups', $3, pg_current_xact_id()) RETURNING id
        """,
        f"tampered-{uuid.uuid4()}", clock.now(), uuid.uuid4(),
    )  # fmt: skip
    await db.execute(
        "INSERT INTO journal_lines (entry_id, account_id, side, amount_cents)"
        " VALUES ($1, $2, 'debit', $3)",
        entry, account, cents,
    )  # fmt: skip
    await db.execute("RESET session_replication_role")


async def _ledger_gauges(client: httpx.AsyncClient, ops: dict[str, str]) -> dict[str, float]:
    """The ledger's samples as GET /metrics exposes them (ops only)."""
    response = await client.get("/metrics", headers=ops)
    assert response.status_code == 200
    return {s.name: s.value for family in text_string_to_metric_families(response.text)
            for s in family.samples if s.name.startswith("hearth_ledger_")}  # fmt: skip


async def test_the_real_ledger_balances_and_each_check_is_kept(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any
) -> None:
    provider = await f.make_provider_actor(db)
    assert provider.provider_id is not None
    await w.session_entry(db, provider.provider_id, uuid.uuid4(), 12_345, clock.now())
    ops = token(await f.make_ops(db))
    # No check yet: no gauge at all, rather than a reassuring 0.
    assert await _ledger_gauges(client, ops) == {}
    trial = (await client.get("/ledger/trial-balance", headers=ops)).json()
    assert trial["imbalance_cents"] == 0
    assert trial["debits_cents"] == trial["credits_cents"] >= 12_345
    first = await trial_balance.check_trial_balance(db)
    second = await trial_balance.check_trial_balance(db)
    assert (first.balanced, first.imbalance_cents, first.debits_cents) == (
        True, 0, trial["debits_cents"])  # fmt: skip
    assert await _ledger_gauges(client, ops) == {
        "hearth_ledger_imbalance_cents": 0,
        "hearth_ledger_trial_balance_checked_timestamp_seconds": second.created_at.timestamp(),
    }
    page = (await client.get("/ledger/trial-balance/checks?limit=1", headers=ops)).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"] is not None
    rest = await client.get(f"/ledger/trial-balance/checks?cursor={page['next_cursor']}",
                            headers=ops)  # fmt: skip
    ids = {c["id"] for c in page["items"] + rest.json()["items"]}
    assert ids == {str(first.id), str(second.id)}


async def test_an_unbalanced_ledger_raises_the_alarm(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await _unbalanced_line(db, 777)
    with caplog.at_level(logging.ERROR, logger="services.payouts.trial_balance"):
        check = await trial_balance.check_trial_balance(db)
    assert (check.balanced, check.imbalance_cents) == (False, 777)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "ledger trial balance does not balance"]  # fmt: skip
    ops = token(await f.make_ops(db))
    # The API process serves what the worker's check stored, read at the scrape.
    assert (await _ledger_gauges(client, ops))["hearth_ledger_imbalance_cents"] == 777
    assert (await client.get("/ledger/trial-balance", headers=ops)).json()["imbalance_cents"] == 777
    listed = (await client.get("/ledger/trial-balance/checks", headers=ops)).json()["items"]
    assert [(c["balanced"], c["imbalance_cents"]) for c in listed] == [(False, 777)]


async def test_the_daily_job_records_a_check(committed_db: str) -> None:
    pool = await asyncpg.create_pool(committed_db, min_size=1, max_size=2)
    try:
        assert await check_trial_balance({"pool": pool}) == 0
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT balanced FROM trial_balance_checks") is True
    finally:
        await pool.close()


@pytest.mark.parametrize("who", ["none", "provider", "client"])
async def test_only_ops_read_the_books(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any, who: str
) -> None:
    caller = None if who == "none" else await f.make_actor(db, who)
    headers = token(caller) if caller else {}
    for url in ("/ledger/trial-balance", "/ledger/trial-balance/checks"):
        assert (await client.get(url, headers=headers)).status_code == (
            401 if who == "none" else 403)  # fmt: skip
