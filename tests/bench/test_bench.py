"""`python -m infra.bench` prints the benchmark lines in the agreed shape (no timing).

The API benchmark makes (and drops) its database on the test run's PostgreSQL and uses its Redis.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.bench.test_charges import CHARGES, CHARGES_BASELINE
from tests.bench.test_era_parse import ERA_PARSE
from tests.bench.test_era_post import ERA_POST, ERA_POST_BASELINE
from tests.bench.test_outbox_relay import OUTBOX_RELAY, OUTBOX_RELAY_BASELINE
from tests.bench.test_payout_run import PAYOUT_RUN, PAYOUT_RUN_BASELINE
from tests.bench.test_session_completion import LINE, PROFILE

REPO = Path(__file__).resolve().parents[2]


def test_bench_prints_every_benchmarks_lines() -> None:
    env = {
        **os.environ,
        "HEARTH_BENCH_SECONDS": "0.01",
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
        "HEARTH_BENCH_CLAIMS": "700",
        "HEARTH_BENCH_ERA_SEGMENTS": "3000",
        "HEARTH_BENCH_ERA_POST_CLAIMS": "60",
        "HEARTH_BENCH_ERA_POST_PAYMENT": "20",
        "HEARTH_BENCH_CHARGES": "30",
        "HEARTH_BENCH_PAYOUT_PROVIDERS": "20",
        "HEARTH_BENCH_PAYOUT_SESSIONS": "200",
        "HEARTH_BENCH_OUTBOX_ROWS": "500",
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 20, lines
    number = r"[0-9]+"
    assert re.fullmatch(
        rf"bench estimate estimates_per_s={number} projection_5_per_s={number} "
        rf"baseline=msgspec_roundtrip_benefits baseline_per_s={number} ratio=[0-9]+\.[0-9]{{3}}",
        lines[0],
    ), lines
    assert re.fullmatch(
        rf"bench estimate_baseline name=msgspec_roundtrip_benefits per_s={number}", lines[1]
    ), lines
    # The text's cost stays seen: a projection rendered as the API renders it.
    assert re.fullmatch(
        rf"bench estimate_rendered projection_5_per_s={number} "
        rf"baseline=msgspec_roundtrip_benefits ratio=[0-9]+\.[0-9]{{3}} "
        rf"figures_ratio=[0-9]+\.[0-9]{{3}}",
        lines[2],
    ), lines
    decimal = r"[0-9]+\.[0-9]+"
    assert re.fullmatch(
        rf"bench eligibility checks_per_s={number} p99_ms={decimal} concurrency=8 "
        rf"baseline=simulator_health_get baseline_per_s={number} ratio=[0-9]+\.[0-9]{{3}}",
        lines[3],
    ), lines
    assert re.fullmatch(
        rf"bench eligibility_baseline name=simulator_health_get per_s={number}", lines[4]
    ), lines
    assert re.fullmatch(
        rf"bench claims_837 claims_per_s={number} claims=700 interchanges=3 "
        rf"baseline=join_concat ratio=[0-9]+\.[0-9]{{3}}",
        lines[5],
    ), lines
    assert re.fullmatch(
        rf"bench claims_837_baseline name=join_concat claims_per_s={number}", lines[6]
    ), lines
    assert re.fullmatch(ERA_PARSE, lines[7]), lines
    assert re.fullmatch(
        rf"bench eligibility_api checks_per_s={number} p50_ms={decimal} p99_ms={decimal}"
        rf" concurrency=8 baseline=benefit_check_get baseline_per_s={number}"
        rf" ratio=[0-9]+\.[0-9]{{3}}",
        lines[8],
    ), lines
    assert re.fullmatch(
        rf"bench eligibility_api_baseline name=benefit_check_get per_s={number}"
        rf" p50_ms={decimal} p99_ms={decimal}",
        lines[9],
    ), lines
    assert re.fullmatch(LINE, lines[10]), lines
    assert re.fullmatch(PROFILE, lines[11]), lines
    assert re.fullmatch(ERA_POST, lines[12]), lines
    assert re.fullmatch(ERA_POST_BASELINE, lines[13]), lines
    assert re.fullmatch(CHARGES, lines[14]), lines
    assert re.fullmatch(CHARGES_BASELINE, lines[15]), lines
    assert re.fullmatch(PAYOUT_RUN, lines[16]), lines
    assert re.fullmatch(PAYOUT_RUN_BASELINE, lines[17]), lines
    assert re.fullmatch(OUTBOX_RELAY, lines[18]), lines
    assert re.fullmatch(OUTBOX_RELAY_BASELINE, lines[19]), lines
