"""`bench claims_837` runs short and prints its two lines; the files it times are valid 837Ps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from services.bench.claims_837 import baseline_all, batches, write_all
from services.claims.x837 import MAX_CLAIMS_PER_FILE
from services.core.x12 import read_interchange
from tests.x12tools import x12valid_errors

REPO = Path(__file__).resolve().parents[2]


def test_claims_837_bench_prints_its_lines() -> None:
    env = {**os.environ, "HEARTH_BENCH_SECONDS": "0.01", "HEARTH_BENCH_CLAIMS": "1600"}
    done = subprocess.run(
        [sys.executable, "-m", "services.bench.claims_837"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert len(lines) == 2, lines
    # 1600 claims over three payers: 534, 533 and 533, so two interchanges each.
    assert re.fullmatch(
        r"bench claims_837 claims_per_s=[0-9]+ claims=1600 interchanges=6 "
        r"baseline=join_concat ratio=[0-9]+\.[0-9]{3}",
        lines[0],
    ), lines
    assert re.fullmatch(r"bench claims_837_baseline name=join_concat claims_per_s=[0-9]+", lines[1])


def test_the_bench_times_valid_interchanges_of_every_shape() -> None:
    work = batches(1600)
    files = write_all(work)
    assert files == baseline_all(work)
    seen = set()
    for text, (batch, _) in zip(files, work, strict=True):
        assert len(batch.claims) <= MAX_CLAIMS_PER_FILE
        assert len({claim.payer.payer_id for claim in batch.claims}) == 1
        (transaction,) = read_interchange(text).transactions
        assert sum(s[0] == "CLM" for s in transaction.segments) == len(batch.claims)
        seen.update(s[5].split(":")[2] for s in transaction.segments if s[0] == "CLM")
        seen.update(s[1] for s in transaction.segments if s[0] in ("PAT", "REF"))
    assert {"1", "7", "8", "19", "G1", "F8", "6R"} <= seen
    for text in files[:2]:  # one payer's two files: x12valid takes a while on 500 claims
        assert x12valid_errors(text) == []
    isa13 = [read_interchange(text).isa[13] for text in files]
    assert isa13 == sorted(isa13)
    assert len(set(isa13)) == len(isa13)
