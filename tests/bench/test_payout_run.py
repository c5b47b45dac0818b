"""`bench payout_run` prints its two lines through infra: a whole payout run (every bench
provider paid once, exactly what the bare aggregate says they are owed, through the Stripe
simulator; the bench exits non-zero otherwise or when the ledger does not balance), beside the
bare SQL aggregate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DECIMAL = r"[0-9]+\.[0-9]+"
PAYOUT_RUN = (
    r"bench payout_run providers=(?P<providers>[0-9]+) sessions=(?P<sessions>[0-9]+)"
    rf" seconds={DECIMAL} per_provider_ms={DECIMAL} sql_seconds={DECIMAL} ratio={DECIMAL}"
    rf" run_seconds={DECIMAL} run_ms={DECIMAL} transfer_seconds={DECIMAL}"
    rf" stripe_seconds={DECIMAL} transfer_ms=-?{DECIMAL} payouts=(?P<payouts>[0-9]+)"
    r" stripe_calls=[0-9]+"
    rf" setup_seconds={DECIMAL} load={DECIMAL}"
)
PAYOUT_RUN_BASELINE = rf"bench payout_run_baseline name=sql_aggregate sql_seconds={DECIMAL}"


def test_payout_run_bench_prints_its_lines() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
        "HEARTH_BENCH_PAYOUT_PROVIDERS": "30",
        "HEARTH_BENCH_PAYOUT_SESSIONS": "300",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "payout_run"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line, baseline = done.stdout.splitlines()
    found = re.fullmatch(PAYOUT_RUN, line)
    assert found is not None, line
    assert (found["providers"], found["sessions"]) == ("30", "300")
    # Every bench provider has a payout (the demo world's providers may add theirs).
    assert int(found["payouts"]) >= 30
    assert re.fullmatch(PAYOUT_RUN_BASELINE, baseline), baseline
