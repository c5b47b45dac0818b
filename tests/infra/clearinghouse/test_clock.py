"""The simulator honours HEARTH_CLOCK_SHIFT_TO with its own clock: in a run shifted to another
day, a 270 without a service date is answered as of that day, and its 271 is dated that day."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.infra.clearinghouse.conftest import (
    _wait_listening,
    envelope,
    fixture,
    read_multipart,
    segments,
)
from tests.live import ROOT, process


def test_a_shifted_simulator_answers_as_of_the_shifted_day(tmp_path: Path) -> None:
    log = tmp_path / "clearinghouse.log"
    args = [sys.executable, "-m", "infra.clearinghouse", "--host", "127.0.0.1", "--port", "0"]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "HEARTH_CLOCK_SHIFT_TO": "2028-02-29T12:00:00Z",
    }
    with process(args, env, log):
        base = _wait_listening(log)
        fields = envelope(fixture("270_no_service_date.x12"))
        response = httpx.post(
            f"{base}/core", files={k: (None, v) for k, v in fields.items()}, timeout=30
        )
    answer = read_multipart(response)
    assert response.status_code == 200, answer
    assert answer["TimeStamp"].startswith("2028-02-29T")
    found = segments(answer["Payload"])
    assert found[0].split("*")[9] == "280229"  # ISA09, the interchange date
    # Jordan Lee's plan year as of 29 Feb 2028: a fresh year, no 2026 claims in it.
    assert "DTP*346*D8*20280101" in found
    assert "EB*C*IND*MH***29*500*****Y" in found  # the whole $500 deductible remains
