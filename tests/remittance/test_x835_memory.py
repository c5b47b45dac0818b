"""Memory stays flat as 835 files grow: the reader holds one transaction, never the file.

tracemalloc's peak while validating generated files of 50,000 and 400,000 segments (payments
of 500 claims each, as the bench writes them): the larger file, eight times the segments, must
not need more than the smaller one plus a little (no timing is asserted).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from services.bench.era_parse import CLAIMS_PER_PAYMENT, write_file
from services.remittance.x835 import iter_835, validate_835

MIB = 1024 * 1024


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            summary = validate_835(file)
        return tracemalloc.get_traced_memory()[1], summary.segments
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    peaks, sizes = {}, {}
    for segments in (50_000, 400_000):
        path = tmp_path / f"{segments}.835"
        with path.open("w", encoding="ascii", newline="") as out:
            written = write_file(out, segments)
        peak, read = _peak(path)
        assert read == written >= segments
        peaks[segments], sizes[segments] = peak, path.stat().st_size
    assert peaks[400_000] < peaks[50_000] * 1.25 + MIB, peaks
    assert peaks[400_000] < 16 * MIB, peaks
    assert peaks[400_000] * 2 < sizes[400_000], (peaks, sizes)  # never the file in memory


def test_the_generated_payments_are_each_one_transaction_of_claims(tmp_path: Path) -> None:
    path = tmp_path / "small.835"
    with path.open("w", encoding="ascii", newline="") as out:
        write_file(out, 12_000)
    with path.open("rb") as file:
        sizes = [len(r.claims) for r in iter_835(file)]
    assert sizes
    assert all(size == CLAIMS_PER_PAYMENT for size in sizes)
