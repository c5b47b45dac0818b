"""`bench era_parse` runs short and prints its line; the file it times is a valid 835."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from services.bench.era_parse import write_file
from services.remittance.x835 import read_835
from tests.x12tools import x12valid_errors

REPO = Path(__file__).resolve().parents[2]
ERA_PARSE = (
    r"bench era_parse segments_per_s=[0-9]+ peak_mib=[0-9]+\.[0-9] pyx12_segments_per_s=[0-9]+"
    r" ratio=[0-9]+\.[0-9]{3} segments=[0-9]+ wall_ratio=[0-9]+\.[0-9]{3}"
    r" cpu_segments_per_s=[0-9]+ pyx12_cpu_segments_per_s=[0-9]+"
)


def test_era_parse_bench_prints_its_line() -> None:
    env = {**os.environ, "HEARTH_BENCH_SECONDS": "0.01", "HEARTH_BENCH_ERA_SEGMENTS": "3000"}
    done = subprocess.run(
        [sys.executable, "-m", "services.bench.era_parse"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (line,) = done.stdout.splitlines()
    assert re.fullmatch(ERA_PARSE, line), line
    found = re.search(r" segments=([0-9]+)", line)
    assert found is not None
    segments = int(found[1])
    assert segments >= 3000


def test_the_bench_file_is_valid_and_balanced_in_every_shape() -> None:
    out = io.StringIO()
    written = write_file(out, 1500)
    text = out.getvalue()
    assert x12valid_errors(text) == []
    summary, remittances = read_835(io.BytesIO(text.encode()))
    assert summary.segments == written
    statuses, remarks, reasons = set(), set(), set()
    for remittance in remittances:
        assert {p.reason for p in remittance.provider_adjustments} == {"L6", "WO"}
        for claim in remittance.claims:
            statuses.add(claim.status)
            for line in claim.lines:
                remarks.update(line.remark_codes)
                reasons.update(f"{a.group}-{a.reason}" for a in line.adjustments)
    assert statuses == {"1", "4", "22"}
    assert remarks == {"N115", "M80"}
    assert {"CO-45", "PR-1", "PR-2", "PR-3", "CO-50", "CO-97"} <= reasons
