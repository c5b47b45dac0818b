"""`bench charges` prints its two lines through infra: every pending charge charged once through
the Stripe simulator by the charge_client job's body (the bench exits non-zero when one does
not succeed or the ledger does not balance), beside the simulator's bare PaymentIntent create."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHARGES = (
    r"bench charges charges_per_s=[0-9]+ p99_ms=[0-9]+\.[0-9] charges=(?P<charges>[0-9]+)"
    r" concurrency=10 baseline=payment_intent_create baseline_per_s=[0-9]+"
    r" ratio=[0-9]+\.[0-9]{3}"
)
CHARGES_BASELINE = (
    r"bench charges_baseline name=payment_intent_create per_s=[0-9]+ p99_ms=[0-9]+\.[0-9]"
)


def test_charges_bench_prints_its_lines() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
        "HEARTH_BENCH_CHARGES": "30",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "charges"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    line, baseline = done.stdout.splitlines()
    found = re.fullmatch(CHARGES, line)
    assert found is not None, line
    assert int(found["charges"]) == 30
    assert re.fullmatch(CHARGES_BASELINE, baseline), baseline
