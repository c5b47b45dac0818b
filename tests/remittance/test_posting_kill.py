"""Each 835 posted once whatever happens to the posting process: `post-835` SIGKILLed at spread
points of its run (while it starts, inside the file's transaction, near its commit), then run
again: every payment and claim of the file posted once, our claim paid, the ledger balanced.

HEARTH_KILL_TRIALS(_POSTING) sets how many kills: none by default (skipped by `make test`,
which keeps its time), 50 under `make reliability`, which reads what `_posted_once` counted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from services.core.db import transaction
from services.ledger.service import get_trial_balance
from tests.factories import make_payer, make_provider_actor
from tests.live import app_env, process
from tests.reliability import kill_trials, record
from tests.remittance.billed import Billed, bill
from tests.remittance.test_posting_race import _big_file, pool  # noqa: F401 - the fixture

TRIALS = kill_trials("posting", default=0)
PAYMENTS, CLAIMS = 4, 400  # a file whose posting takes a good part of the process's run
# The kills spread over this part of a whole run's time (measured on an unkilled first run):
# the interpreter starting, then the file's one transaction, up to its commit.
SPREAD = (0.3, 0.98)


def _file(billed: Billed, trial: int) -> bytes:
    return _big_file(billed, PAYMENTS, CLAIMS, tag=_tag(trial), control=1000 + trial)


def _tag(trial: int) -> str:
    return f"K{trial:04d}"


async def _posted(pool: asyncpg.Pool, trial: int) -> tuple[int, int]:  # noqa: F811
    """The trial's file as the database has it: (payments, remitted claims)."""
    row = await pool.fetchrow(
        "SELECT count(DISTINCT p.id) AS payments, count(c.id) AS claims"
        " FROM remittance_payments p LEFT JOIN remitted_claims c ON c.payment_id = p.id"
        " WHERE p.trace_number LIKE $1",
        f"EFT9{_tag(trial)}%",
    )
    return row["payments"], row["claims"]


@pytest.mark.skipif(TRIALS == 0, reason="make reliability runs it (HEARTH_KILL_TRIALS)")
async def test_a_posting_killed_at_spread_points_posts_each_file_once(
    pool: asyncpg.Pool,  # noqa: F811
    committed_db: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = app_env(committed_db, redis_url)
    async with transaction(pool) as conn:
        payer, provider = await make_payer(conn), await make_provider_actor(conn)
        billed = [await bill(conn, payer.id, provider) for _ in range(TRIALS + 1)]
    paths = []
    for trial, one in enumerate(billed):
        paths.append(tmp_path / f"{trial}.835")
        paths[-1].write_bytes(_file(one, trial))

    def command(trial: int) -> list[str]:
        return [sys.executable, "-m", "services.cli", "post-835", str(paths[trial])]

    started = time.monotonic()  # the calibration: file 0 posted without a kill
    with process(command(0), env, tmp_path / "post-0.log") as first:
        assert first.wait(timeout=120) == 0, (tmp_path / "post-0.log").read_text()
    whole = time.monotonic() - started
    outcomes: Counter[str] = Counter()
    for trial in range(1, TRIALS + 1):
        low, high = SPREAD
        delay = whole * (low + (high - low) * (trial - 1) / max(1, TRIALS - 1))
        with process(command(trial), env, tmp_path / f"post-{trial}-killed.log") as killed:
            await asyncio.sleep(delay)
            if killed.poll() is None:
                os.killpg(killed.pid, signal.SIGKILL)
                killed.wait()
                outcomes["posted" if (await _posted(pool, trial))[0] else "not posted"] += 1
            else:
                outcomes["finished before the kill"] += 1
        again = tmp_path / f"post-{trial}-again.log"
        with process(command(trial), env, again) as rerun:
            assert rerun.wait(timeout=120) == 0, again.read_text()
    if TRIALS >= 10:  # most kills landed before the commit; the file then posted on the rerun
        assert outcomes["not posted"] >= TRIALS // 2, outcomes
    await _posted_once(pool, billed)


async def _posted_once(pool: asyncpg.Pool, billed: list[Billed]) -> None:  # noqa: F811
    """Every file's payments and claims posted once, each of our claims paid; balanced. A file
    short of anything counts as lost, one with anything twice as duplicated."""
    lost = duplicated = 0
    for trial, one in enumerate(billed[1:], start=1):
        payments, claims = await _posted(pool, trial)
        status = await pool.fetchval("SELECT status FROM claims WHERE id = $1", one.claim_id)
        lost += payments < PAYMENTS or claims < PAYMENTS * CLAIMS or status != "paid"
        duplicated += payments > PAYMENTS or claims > PAYMENTS * CLAIMS
    record("posting", tried=len(billed) - 1, lost=lost, duplicated=duplicated)
    assert (lost, duplicated) == (0, 0)
    entries = await pool.fetchval(
        "SELECT count(*) FROM journal_entries WHERE kind NOT IN ('completion')"
    )
    assert entries == len(billed) * PAYMENTS * CLAIMS
    async with pool.acquire() as conn:
        assert (await get_trial_balance(conn)).imbalance_cents == 0
