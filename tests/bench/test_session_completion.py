"""`bench session_completion` runs for about a second through infra (servers, pgbench) and
prints its two lines; without pgbench its line has no ratio and stderr says why."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.bench.session_completion import Cpu, Load, _report

REPO = Path(__file__).resolve().parents[2]
DECIMAL = r"[0-9]+\.[0-9]+"
LINE = (
    rf"bench session_completion completions_per_s=[0-9]+ p99_ms={DECIMAL}"
    rf" pgbench_tps=[0-9]+ ratio=[0-9]+\.[0-9]{{3}}"
)
PROFILE = (
    rf"bench session_completion_profile completions=(?P<n>[0-9]+) concurrency=8"
    rf" p50_ms={DECIMAL} cpu_ms_api={DECIMAL} cpu_ms_postgres={DECIMAL}"
    rf" cpu_ms_loadgen={DECIMAL} commits=(?P<commits>{DECIMAL})"
    rf" rows_written=(?P<rows>{DECIMAL}) index_scans={DECIMAL}"
)


def test_session_completion_prints_its_lines_beside_pgbench() -> None:
    env = {
        **os.environ,
        "HEARTH_BENCH_SECONDS": "0.34",  # x3: one turn of a second each side
        "DATABASE_URL": os.environ["HEARTH_TEST_SERVER_URL"],
        "REDIS_URL": os.environ["HEARTH_TEST_REDIS_URL"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "session_completion"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    assert re.fullmatch(LINE, lines[0]), lines
    profile = re.fullmatch(PROFILE, lines[1])
    assert profile is not None, lines
    assert int(profile["n"]) > 0
    # Every completion committed something and wrote its rows: the session, its line, the
    # claim and its line, the journal entry and its lines, the audit row at the least.
    assert float(profile["commits"]) >= 1
    assert float(profile["rows"]) >= 7


def test_without_pgbench_the_line_has_no_ratio_and_stderr_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    load = Load(latencies=[10.0, 20.0, 30.0, 40.0], spent=0.5)
    cpu = Cpu(api_pid=0, backends=[], spent=[8.0, 12.0, 4.0])
    _report(load, None, cpu, [8, 40, 100])
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "bench session_completion completions_per_s=8 p99_ms=40.0",
        "bench session_completion_profile completions=4 concurrency=8 p50_ms=25.0"
        " cpu_ms_api=2.00 cpu_ms_postgres=3.00 cpu_ms_loadgen=1.00 commits=2.0"
        " rows_written=10.0 index_scans=25.0",
    ]
    assert "no pgbench" in err
    assert "no ratio" in err
