"""`make reliability`'s summary lines come from what the suites' tests recorded and ran."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import (
    FLOW_FLOORS,
    KILL_FLOWS,
    RESULTS,
    Suite,
    _suites,
    kill_trials,
    record,
    summarize,
)

KILLS = Suite("sigkill", ["-m", "kill"], {}, floor=10, by_flow=True)
PLAIN = Suite("authz", ["-m", "authz"], {})


def _results(path: Path, *lines: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _test(name: str, outcome: str = "passed", when: str = "call") -> dict[str, Any]:
    return {"kind": "test", "test": name, "when": when, "outcome": outcome, "seconds": 2.0}


def _tally(name: str, flow: str, tried: int, **counts: int) -> dict[str, Any]:
    return {"kind": "tally", "flow": flow, "test": name, "tried": tried, "lost": 0,
            "duplicated": 0, "failures": 0, **counts}  # fmt: skip


def test_kill_flows_sum_what_their_tests_recorded(tmp_path: Path) -> None:
    path = _results(
        tmp_path / "r.jsonl",
        _test("a::charge", when="setup"), _test("a::charge"), _tally("a::charge", "charging", 6),
        _test("b::post"), _tally("b::post", "posting", 5),
    )  # fmt: skip
    lines, clean = summarize(KILLS, path, 12.4)
    assert lines == [
        "reliability sigkill_charging tried=6 lost=0 duplicated=0 failures=0 seconds=4",
        "reliability sigkill_posting tried=5 lost=0 duplicated=0 failures=0 seconds=2",
        "reliability sigkill tried=11 lost=0 duplicated=0 failures=0 seconds=12",
    ]
    assert clean


def test_a_loss_a_double_or_a_failed_test_makes_the_suite_unclean(tmp_path: Path) -> None:
    path = _results(
        tmp_path / "r.jsonl",
        _test("a::charge", "failed"), _tally("a::charge", "charging", 20, lost=1, duplicated=2),
    )  # fmt: skip
    lines, clean = summarize(KILLS, path, 1)
    assert lines[-1] == "reliability sigkill tried=20 lost=1 duplicated=2 failures=1 seconds=1"
    assert not clean


def test_a_kill_test_that_records_nothing_fails_and_the_floor_is_checked(tmp_path: Path) -> None:
    path = _results(tmp_path / "r.jsonl", _test("p::payout"), _tally("a::c", "charging", 4))
    lines, clean = summarize(KILLS, path, 1)
    assert "p::payout passed but recorded no trials" in "\n".join(lines)
    assert "tried 4, below the floor of 10" in "\n".join(lines)
    assert not clean


def test_plain_suites_count_the_tests_that_ran(tmp_path: Path) -> None:
    skipped = _test("c::skipped", "skipped", "setup")
    path = _results(tmp_path / "r.jsonl", _test("a::x"), _test("b::y", "failed"), skipped)
    lines, clean = summarize(PLAIN, path, 3)
    assert lines == ["reliability authz tried=2 lost=0 duplicated=0 failures=1 seconds=3"]
    assert not clean
    assert not summarize(PLAIN, tmp_path / "missing.jsonl", 0)[1]  # nothing ran: not clean


def test_trial_counts_and_records_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("HEARTH_KILL_TRIALS", "HEARTH_KILL_TRIALS_POSTING", RESULTS):
        monkeypatch.delenv(name, raising=False)
    assert kill_trials("posting", default=3) == 3
    monkeypatch.setenv("HEARTH_KILL_TRIALS", "40")
    assert kill_trials("posting") == 40
    monkeypatch.setenv("HEARTH_KILL_TRIALS_POSTING", "7")
    assert kill_trials("posting") == 7
    record("posting", tried=7)  # outside `make reliability`: nowhere to write, nothing written
    monkeypatch.setenv(RESULTS, str(tmp_path / "r.jsonl"))
    record("posting", tried=7, lost=1)
    (line,) = (tmp_path / "r.jsonl").read_text().splitlines()
    assert json.loads(line) | {"test": ""} == _tally("", "posting", 7, lost=1)


def test_a_flow_below_its_own_floor_makes_the_suite_unclean(tmp_path: Path) -> None:
    kills = Suite("sigkill", ["-m", "kill"], {}, floor=10, by_flow=True,
                  flow_floors={"payouts": 200})  # fmt: skip
    path = _results(
        tmp_path / "r.jsonl", _test("a::charge"), _tally("a::charge", "charging", 300),
        _test("p::payout"), _tally("p::payout", "payouts", 199),
    )  # fmt: skip
    lines, clean = summarize(kills, path, 1)
    assert "sigkill_payouts: tried 199, below its 200" in "\n".join(lines)
    assert not clean
    path = _results(tmp_path / "s.jsonl", _test("p::payout"), _tally("p::payout", "payouts", 200))
    assert summarize(kills, path, 1)[1]


def test_the_full_budget_gives_payouts_its_200_kills_and_a_quick_look_fewer() -> None:
    (full, *_) = _suites(50, 10, floors=True)
    assert FLOW_FLOORS == {"payouts": 200}
    assert full.env["HEARTH_KILL_TRIALS_PAYOUTS"] == "200"
    assert {full.env[f"HEARTH_KILL_TRIALS_{f.upper()}"] for f in KILL_FLOWS if f != "payouts"} == {
        "50"}  # fmt: skip
    assert full.flow_floors == {"payouts": 200}
    (quick, *_) = _suites(5, 2, floors=False)
    assert (quick.env["HEARTH_KILL_TRIALS_PAYOUTS"], quick.flow_floors) == ("5", {})
