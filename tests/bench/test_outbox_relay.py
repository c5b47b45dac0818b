"""`bench outbox_relay` prints its two lines through infra: every row handed to arq once by
calls as a relay tick makes them (the bench exits non-zero otherwise), beside the bare arq
enqueue of as many jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTBOX_RELAY = (
    r"bench outbox_relay rows_per_s=[0-9]+ rows=(?P<rows>[0-9]+) calls=(?P<calls>[0-9]+)"
    r" seconds=[0-9]+\.[0-9]{2} budget_s=20 baseline=arq_enqueue baseline_per_s=[0-9]+"
    r" ratio=[0-9]+\.[0-9]{3}"
)
OUTBOX_RELAY_BASELINE = r"bench outbox_relay_baseline name=arq_enqueue per_s=[0-9]+"


def test_outbox_relay_bench_prints_its_lines() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
        "HEARTH_BENCH_OUTBOX_ROWS": "1000",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "outbox_relay"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line, baseline = done.stdout.splitlines()
    found = re.fullmatch(OUTBOX_RELAY, line)
    assert found is not None, line
    # 1,000 rows in batches of 200: one call drains them all.
    assert (found["rows"], found["calls"]) == ("1000", "1")
    assert re.fullmatch(OUTBOX_RELAY_BASELINE, baseline), baseline
