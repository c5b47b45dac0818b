"""`make reliability`: the SIGKILL, duplicate/concurrency/fault, OpenAPI fuzz and authorization
suites, one summary line each, from what the tests really observed.

As a pytest plugin (tests/conftest.py loads it) it marks the suites' tests and, when
HEARTH_RELIABILITY_RESULTS names a file, appends to it one JSON line per test phase (from the
xdist controller) and one per `record()` call (from whichever process ran the test). Run as
`python -m tests.reliability`, it runs each suite as its own pytest and prints

    reliability NAME tried=N lost=L duplicated=D failures=F seconds=S

exiting non-zero when anything failed, was lost or duplicated, or a suite tried less than its
floor. A test joins the SIGKILL suite by living in a `test_*kill*.py` module or carrying
`@pytest.mark.kill`, reading its trial count with `kill_trials(flow)` (or HEARTH_KILL_TRIALS)
and calling `record(flow, ...)` with what it counted; one that records nothing fails the suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

RESULTS = "HEARTH_RELIABILITY_RESULTS"
KILL_FLOWS = ("charging", "completion", "submission", "posting", "payouts")
KILL_FLOOR = 200  # SIGKILL trials across the flows (issue 18's Tests, issue 19 item 4)
FUZZ_FLOOR = 5_000  # generated requests
DEFAULT_KILL_TRIALS = 50  # per flow: 4 flows on main reach the floor, payouts adds its own
DEFAULT_FUZZ_EXAMPLES = 10  # per operation, mode and role: about 7,000 requests

# Which tests the duplicate/concurrency/fault suite runs: modules about races, concurrency,
# outages and idempotency, and tests named for a duplicate (done once), a race, a crash or a
# fault; not the start-up, demo and codec tests whose names only share the words.
_CONCURRENCY_MODULE = re.compile(r"concurren|race|outage|idempoten|fault|short_transactions")
_CONCURRENCY_TEST = re.compile(
    r"(?:^|_)(?:concurrent|at_once|same_moment|twice|race|killed|crash|faults?|outage|lost|"
    r"timeout|forgot|replayed|once)(?:_|$)"
)
_NOT_CONCURRENCY = re.compile(r"test_(?:demo|local_run|stack|x12\w*|migrations\w*|settings)\.py")


def kill_trials(flow: str, default: int = 20) -> int:
    """How many kills a SIGKILL test makes: HEARTH_KILL_TRIALS_<FLOW>, else HEARTH_KILL_TRIALS,
    else `default` (what `make test` runs)."""
    for name in (f"HEARTH_KILL_TRIALS_{flow.upper()}", "HEARTH_KILL_TRIALS"):
        if value := os.environ.get(name):
            return int(value)
    return default


def record(flow: str, *, tried: int, lost: int = 0, duplicated: int = 0, failures: int = 0) -> None:
    """What a reliability test observed (call it before asserting, so a failing run still says
    what it lost). Nothing is written outside `make reliability`."""
    path = os.environ.get(RESULTS)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    line = {"kind": "tally", "flow": flow, "test": test, "tried": tried, "lost": lost,
            "duplicated": duplicated, "failures": failures}  # fmt: skip
    _append(Path(path), line)


def _append(path: Path, line: dict[str, Any]) -> None:
    # One write of one line with O_APPEND: lines of concurrent xdist workers never interleave.
    data = (json.dumps(line) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _uses_authz_matrix(module: Any) -> bool:
    return any(getattr(v, "__module__", None) == "tests.authz" for v in vars(module).values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        name = Path(str(item.fspath)).name
        test = getattr(item, "originalname", item.name)
        if re.fullmatch(r"test_\w*kill\w*\.py", name) and "kill" in test:
            item.add_marker(pytest.mark.kill)
        if "authz" in name or (module is not None and _uses_authz_matrix(module)):
            item.add_marker(pytest.mark.authz)
        if _NOT_CONCURRENCY.fullmatch(name):
            continue
        if _CONCURRENCY_MODULE.search(name) or _CONCURRENCY_TEST.search(test):
            item.add_marker(pytest.mark.concurrency)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(RESULTS)
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller (or a run without xdist) writes each report once
    _append(Path(path), {"kind": "test", "test": report.nodeid, "when": report.when,
                         "outcome": report.outcome, "seconds": report.duration})  # fmt: skip


@dataclass
class Tally:
    tried: int = 0
    lost: int = 0
    duplicated: int = 0
    failures: int = 0
    seconds: float = 0.0
    tests: set[str] = field(default_factory=set)

    def line(self, name: str) -> str:
        return (
            f"reliability {name} tried={self.tried} lost={self.lost}"
            f" duplicated={self.duplicated} failures={self.failures} seconds={self.seconds:.0f}"
        )

    @property
    def clean(self) -> bool:
        return self.tried > 0 and self.lost == self.duplicated == self.failures == 0


@dataclass
class Suite:
    name: str
    selection: list[str]
    env: dict[str, str]
    floor: int = 0
    by_flow: bool = False  # one line per recorded flow, then the total


def _read(path: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Each test's outcome (failed if any phase failed) and duration, and the tallies."""
    tests: dict[str, dict[str, Any]] = {}
    tallies = []
    lines = path.read_text().splitlines() if path.exists() else []
    for line in map(json.loads, lines):
        if line["kind"] == "tally":
            tallies.append(line)
            continue
        test = tests.setdefault(line["test"], {"failed": False, "ran": False, "seconds": 0.0})
        test["seconds"] += line["seconds"]
        test["failed"] |= line["outcome"] == "failed"
        test["ran"] |= line["when"] == "call" or line["outcome"] == "failed"
    return tests, tallies


def _tally(tallies: list[dict[str, Any]], seconds: float) -> tuple[Tally, dict[str, Tally]]:
    """The recorded counts summed, over the suite and per flow."""
    total = Tally(seconds=seconds)
    flows: dict[str, Tally] = defaultdict(Tally)
    for tally in tallies:
        for target in (total, flows[tally["flow"]]):
            for key in ("tried", "lost", "duplicated", "failures"):
                setattr(target, key, getattr(target, key) + tally[key])
            target.tests.add(tally["test"])
    return total, flows


def summarize(suite: Suite, path: Path, seconds: float) -> tuple[list[str], bool]:
    """The suite's lines (and notes) and whether it is clean."""
    tests, tallies = _read(path)
    total, flows = _tally(tallies, seconds)
    notes = []
    for test, outcome in tests.items():
        if not outcome["ran"]:
            continue  # skipped
        failed = bool(outcome["failed"])
        if suite.by_flow and not failed and not any(test in f.tests for f in flows.values()):
            notes.append(f"  {test} passed but recorded no trials (tests.reliability.record)")
            failed = True
        total.failures += failed
        for flow in flows.values():
            if test in flow.tests:
                flow.failures += failed
                flow.seconds += outcome["seconds"]
    if not tallies:  # a suite of plain tests: each test is one thing tried
        total.tried = sum(1 for t in tests.values() if t["ran"])
    lines = [flows[f].line(f"{suite.name}_{f}") for f in sorted(flows)] if suite.by_flow else []
    lines.append(total.line(suite.name))
    if total.tried < suite.floor:
        notes.append(f"  {suite.name}: tried {total.tried}, below the floor of {suite.floor}")
    return lines + notes, total.clean and total.tried >= suite.floor


def _suites(kill: int, fuzz: int, floors: bool) -> list[Suite]:
    kills = {f"HEARTH_KILL_TRIALS_{f.upper()}": str(kill) for f in KILL_FLOWS}
    kills["HEARTH_KILL_TRIALS"] = str(kill)  # a SIGKILL test that reads only the shared count
    fuzzing = {"HEARTH_FUZZ_EXAMPLES": str(fuzz)}
    return [
        Suite("sigkill", ["-m", "kill"], kills, KILL_FLOOR if floors else 0, by_flow=True),
        Suite("concurrency", ["-m", "concurrency and not kill"], {}),
        Suite("openapi_fuzz", ["tests/test_openapi_fuzz.py"], fuzzing, FUZZ_FLOOR if floors else 0),
        Suite("authz", ["-m", "authz"], {}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make reliability", description=__doc__)
    parser.add_argument("--kill-trials", type=int, default=DEFAULT_KILL_TRIALS)
    parser.add_argument("--fuzz-examples", type=int, default=DEFAULT_FUZZ_EXAMPLES)
    parser.add_argument("--workers", default=os.environ.get("PYTEST_WORKERS", "2"))
    parser.add_argument("--only", action="append", help="run only these suites")
    args = parser.parse_args(argv)
    # A reduced budget (a quick look) cannot reach the floors: they hold for the full one.
    floors = args.kill_trials >= DEFAULT_KILL_TRIALS and args.fuzz_examples >= DEFAULT_FUZZ_EXAMPLES
    report, clean = [], True
    with tempfile.TemporaryDirectory(prefix="hearth-reliability-") as tmp:
        for suite in _suites(args.kill_trials, args.fuzz_examples, floors):
            if args.only and suite.name not in args.only:
                continue
            results = Path(tmp) / f"{suite.name}.jsonl"
            env = {**os.environ, **suite.env, RESULTS: str(results)}
            command = [sys.executable, "-m", "pytest", "-q", "-n", args.workers, *suite.selection]
            print(f"== reliability {suite.name}: {' '.join(command[2:])}", flush=True)
            started = time.monotonic()
            status = subprocess.run(command, env=env, check=False).returncode
            lines, ok = summarize(suite, results, time.monotonic() - started)
            if status not in (0,):
                lines.append(f"  {suite.name}: pytest exited {status}")
            clean &= ok and status == 0
            report += lines
            print("\n".join(lines), flush=True)
    print("\n".join(["", *report]))
    if not floors:
        print(f"(reduced budget: the floors of {KILL_FLOOR} kills and {FUZZ_FLOOR} requests"
              " were not checked)")  # fmt: skip
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
