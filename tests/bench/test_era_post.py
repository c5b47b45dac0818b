"""`bench era_post` prints its line through infra; the world and files it times post as DESIGN.md
says each shape posts (a valid 835, every claim's receivable to zero, the ledger balanced)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.bench.era_post import build_world, files
from services.bench.served import AS_OF
from services.core import clock as hearth_clock
from services.core.auth import SYSTEM
from services.core.db import create_pool, transaction
from services.core.settings import load_settings
from services.dev.demo_data import load_demo_data
from services.ledger.service import get_claim_receivables, get_trial_balance
from services.remittance.service import post_file
from tests.x12tools import x12valid_errors

REPO = Path(__file__).resolve().parents[2]
ERA_POST = (
    r"bench era_post claims_per_s=[0-9]+ files=(?P<files>[0-9]+) claims=(?P<claims>[0-9]+)"
    r" p99_file_ms=[0-9]+\.[0-9] cpu_ms_python=[0-9]+\.[0-9]{3} cpu_ms_postgres=[0-9]+\.[0-9]{3}"
    r" cpu_claims_per_s=[0-9]+"
    r" baseline=bare_inserts ratio=[0-9]+\.[0-9]{3} cpu_ratio=[0-9]+\.[0-9]{3}"
)
ERA_POST_BASELINE = r"bench era_post_baseline name=bare_inserts claims_per_s=[0-9]+"


def test_era_post_bench_prints_its_line() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
        "HEARTH_BENCH_ERA_POST_CLAIMS": "60",
        "HEARTH_BENCH_ERA_POST_PAYMENT": "20",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "era_post"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    line, baseline = done.stdout.splitlines()
    found = re.fullmatch(ERA_POST, line)
    assert found is not None, line
    assert re.fullmatch(ERA_POST_BASELINE, baseline), baseline
    # Three payments of 20 claims, two a file; the second and third also reverse and correct
    # the previous payment's shape-4 claims (n = 4, 10, 16, then 22, 28, 34).
    assert (int(found["files"]), int(found["claims"])) == (2, 60 + 2 * 3 + 2 * 3)


@pytest.fixture
async def pool(committed_db: str) -> AsyncIterator[asyncpg.Pool]:
    settings = load_settings(
        {**os.environ, "DATABASE_URL": committed_db, "HEARTH_ENV": "development",
         "HEARTH_ARGON2_TIME_COST": "1", "HEARTH_ARGON2_MEMORY_KIB": "1024"}
    )  # fmt: skip
    hearth_clock.CLOCK.freeze(AS_OF)
    await load_demo_data(settings, AS_OF.date())
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.usefixtures("clock")
async def test_the_bench_world_posts_every_shape(pool: asyncpg.Pool) -> None:
    hearth_clock.CLOCK.freeze(AS_OF)
    async with transaction(pool) as conn:
        world = await build_world(conn, 24)
    interchanges = files(world, 12)
    assert len(interchanges) == 1
    for raw, clps in interchanges:
        assert x12valid_errors(raw.decode()) == []
        out, posted = await post_file(pool, raw, "clearinghouse", SYSTEM)
        assert posted
        assert out.file.claims == clps
    async with pool.acquire() as conn:
        statuses = dict(
            await conn.fetch(
                "SELECT claim_number, status FROM claims WHERE claim_number LIKE 'HC%'"
            )
        )
        receivables = await get_claim_receivables(conn, [b.claim_id for b in world])
        imbalance = (await get_trial_balance(conn)).imbalance_cents
        reversed_ = await conn.fetchval(
            "SELECT count(*) FROM remitted_claims WHERE outcome = 'reversed'"
        )
    expected = {0: "paid", 1: "paid", 2: "denied", 3: "partially_paid", 4: "paid", 5: "paid"}
    assert statuses == {f"HC{b.n:08d}": expected[b.shape] for b in world}
    assert reversed_ == 2  # claims 4 and 10, reversed and corrected in the second payment
    # Every receivable at zero but the WO's (10.00 withheld on each payment's last claim).
    withheld = {world[11].claim_id, world[23].claim_id}
    assert {c: r for c, r in receivables.items() if r} == dict.fromkeys(withheld, 1000)
    assert imbalance == 0
