"""A file posted once whatever happens: two imports at once (two real connections), and a
posting process SIGKILLed mid-file then run again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.core.auth import SYSTEM
from services.core.db import create_pool, transaction
from services.ledger.service import get_trial_balance
from services.remittance.service import post_file
from tests.factories import make_payer, make_provider_actor
from tests.live import app_env, process
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, bill

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
async def pool(committed_db: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(committed_db, min_size=2, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def _billed(pool: asyncpg.Pool) -> Billed:
    async with transaction(pool) as conn:
        return await bill(conn, (await make_payer(conn)).id, await make_provider_actor(conn))


def _paid(billed: Billed) -> str:
    return f.PAID.replace("HC0000001A", billed.clm01).replace("L0000001A1", billed.line_controls[0])


async def _counts(pool: asyncpg.Pool) -> tuple[int, int, int, int]:
    async with pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM remittance_payments"),
            await conn.fetchval("SELECT count(*) FROM remitted_claims"),
            await conn.fetchval("SELECT count(*) FROM journal_entries WHERE kind <> 'completion'"),
            (await get_trial_balance(conn)).imbalance_cents,
        )


async def test_two_imports_of_one_file_at_once_post_it_once(pool: asyncpg.Pool) -> None:
    billed = await _billed(pool)
    raw = f.interchange([f.transaction(_paid(billed))]).encode()
    other = f.interchange([f.transaction(_paid(billed))], control=202).encode()  # same trace
    results = await asyncio.gather(
        post_file(pool, raw, "upload", SYSTEM),
        post_file(pool, raw, "upload", SYSTEM),
        post_file(pool, other, "clearinghouse", SYSTEM),
    )
    assert sorted(posted for _, posted in results) == [False, False, True]
    assert await _counts(pool) == (1, 1, 1, 0)
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT status FROM claims WHERE id = $1", billed.claim_id)
            == "paid"
        )


async def test_two_files_naming_the_same_claims_in_opposite_orders_both_post(
    pool: asyncpg.Pool,
) -> None:
    # Crosswise claim locks would deadlock one of them (a 500): files post one at a time.
    first, second = await _billed(pool), await _billed(pool)
    forward = f.transaction(_paid(first) + _paid(second), paid="200", trace="EFT0101")
    backward = f.transaction(_paid(second) + _paid(first), paid="200", trace="EFT0102")
    for round_ in range(3):
        files = (
            f.interchange([forward], control=300 + round_).encode(),
            f.interchange([backward], control=400 + round_).encode(),
        )
        results = await asyncio.gather(*(post_file(pool, raw, "upload", SYSTEM) for raw in files))
        assert len(results) == 2  # neither raised
    payments, _, _, imbalance = await _counts(pool)
    assert (payments, imbalance) == (2, 0)


# Big enough that posting it takes longer than the kill below waits (0.3 s after the first lock
# on remitted_claims): posted a payment at a time, 600 claims took about that, and the kill
# sometimes came after the COMMIT.
def _big_file(
    billed: Billed, payments: int = 8, claims: int = 400, *, tag: str = "", control: int = 101
) -> bytes:
    """`payments` payments of `claims` claims each (ours first, the rest nobody's); `tag` makes
    the traces and claim numbers of one file of several."""
    bodies = []
    for p in range(payments):
        clps = [_paid(billed)] if p == 0 else []
        for n in range(claims - len(clps)):
            clps.append(f.PAID.replace("HC0000001A", f"ZZ{tag}{p:02d}{n:05d}"))
        amount = str(100 * len(clps))
        bodies.append(f.transaction("".join(clps), paid=amount, trace=f"EFT9{tag}{p:04d}"))
    return f.interchange(bodies, control=control).encode()


async def test_a_posting_killed_mid_file_and_run_again_posts_everything_once(
    pool: asyncpg.Pool, committed_db: str, redis_url: str, tmp_path: Path
) -> None:
    billed = await _billed(pool)
    path = tmp_path / "big.835"
    path.write_bytes(_big_file(billed))
    command = [sys.executable, "-m", "services.cli", "post-835", str(path)]
    env = app_env(committed_db, redis_url)
    with process(command, env, tmp_path / "post-1.log") as first:
        for _ in range(300):  # until the child's transaction has written some claims
            async with pool.acquire() as conn:
                busy = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE c.relname = 'remitted_claims' AND l.pid <> pg_backend_pid()"
                )
            if busy:
                break
            await asyncio.sleep(0.05)
        assert busy, (tmp_path / "post-1.log").read_text()
        await asyncio.sleep(0.3)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert await _counts(pool) == (0, 0, 0, 0)  # the file's transaction died with it
    for attempt in (2, 3):
        with process(command, env, tmp_path / f"post-{attempt}.log") as again:
            assert again.wait(timeout=120) == 0, (tmp_path / f"post-{attempt}.log").read_text()
    assert "already posted" in (tmp_path / "post-3.log").read_text()
    assert await _counts(pool) == (8, 3200, 3200, 0)
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT status FROM claims WHERE id = $1", billed.claim_id)
            == "paid"
        )
        assert (
            await conn.fetchval("SELECT count(*) FROM remitted_claims WHERE outcome = 'unmatched'")
            == 3199
        )
