"""`make run`'s process table starts the simulator and hands the API its CORE endpoint URL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.local.run import CHILDREN
from tests.infra.clearinghouse.conftest import envelope, fixture, read_multipart
from tests.live import ROOT

DRIVER = """
import sys
from infra.local.run import CHILDREN, Child, main, python

clearinghouse = next(child for child in CHILDREN if child.name == "clearinghouse")
peer = Child("peer", python("-c", '''
import os, time
print(f"peer sees {os.environ['HEARTH_CLEARINGHOUSE_URL']}", flush=True)
time.sleep(600)
'''))
sys.exit(main(["serve"], setup=[], children=[clearinghouse, peer]))
"""


def test_the_clearinghouse_row_publishes_its_core_url() -> None:
    row = next(child for child in CHILDREN if child.name == "clearinghouse")
    assert row.url_env == "HEARTH_CLEARINGHOUSE_URL"
    assert row.url(8090) == "http://127.0.0.1:8090/core"


def test_make_run_starts_the_simulator_for_the_api(tmp_path: Path) -> None:
    env = {
        **os.environ,
        # Named servers that are never contacted: the stack uses them as given.
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/hearth",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "HEARTH_CLEARINGHOUSE_PORT": "0",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        seen = r"peer sees (http://127\.0\.0\.1:\d+/core)"
        while not (match := re.search(seen, log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        url = match.group(1)
        assert re.search(rf"clearinghouse\s+pid \d+\s+{re.escape(url)}", log.read_text())
        response = None
        while time.monotonic() < deadline:
            try:
                files = {k: (None, v) for k, v in envelope(fixture("270_jordan_lee.x12")).items()}
                response = httpx.post(url, files=files, timeout=5)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 200
        assert read_multipart(response)["ErrorCode"] == "Success"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, log.read_text()
