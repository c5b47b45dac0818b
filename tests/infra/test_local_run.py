"""`python -m infra.local.run` (`make run`): start order, URLs, stop and failure with stand-in
children; its process table starts the simulator and hands the API its CORE endpoint URL."""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import stripe

from infra.local.run import CHILDREN, Child, Running, start_children, stop_children
from tests.infra.clearinghouse.conftest import envelope, fixture, read_multipart

REPO = Path(__file__).resolve().parents[2]

# Stand-ins for the real commands, which need services/ and a database.
DRIVER = """
import sys
from infra.local.run import Child, Step, main, python

mode = sys.argv[1]
web_argv = python("-m", "http.server", "{port}", "--bind", "127.0.0.1")
web = Child("web", web_argv, 0, "HEARTH_WEB_URL")
peer = Child("peer", python("-c", '''
import os, time
print(f"peer sees {os.environ['HEARTH_WEB_URL']} {os.environ['HEARTH_ENV']}", flush=True)
time.sleep(600)
'''))
crasher = Child("crasher", python("-c", "import time; time.sleep(1); raise SystemExit(3)"))
ok = Step("setup", python("-c", "import os; print('setup saw', os.environ['DATABASE_URL'])"))
bad = Step("setup", python("-c", "raise SystemExit(4)"))
setup, children = {
    "ok": ([ok], [web, peer]),
    "crash": ([ok], [web, crasher]),
    "bad-setup": ([bad], [web]),
}[mode]
sys.exit(main(["serve"], setup=setup, children=children))
"""

# Named servers that are never contacted: the stack uses them as given and starts nothing.
ENV = {
    **os.environ,
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/hearth",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


class Driver:
    def __init__(self, mode: str) -> None:
        env = {k: v for k, v in ENV.items() if k != "HEARTH_ENV"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, mode],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.seen:
                if match := re.search(pattern, line):
                    return match
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")

    def output(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


@pytest.fixture
def start() -> Iterator[Callable[[str], Driver]]:
    drivers: list[Driver] = []

    def start(mode: str) -> Driver:
        drivers.append(Driver(mode))
        return drivers[-1]

    yield start
    for driver in drivers:  # a failed test must not leave a driver and its children running
        if driver.proc.poll() is None:
            driver.proc.terminate()
            driver.proc.wait(timeout=15)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_children_learn_each_others_urls_and_stop_on_sigint(
    start: Callable[[str], Driver],
) -> None:
    driver = start("ok")
    driver.wait_for(r"setup saw postgresql://nobody@127.0.0.1:1/hearth")
    web = driver.wait_for(r"^\s+web\s+pid (\d+)\s+(http://127.0.0.1:\d+)")
    peer_pid = int(driver.wait_for(r"^\s+peer\s+pid (\d+)").group(1))
    driver.wait_for(rf"peer sees {re.escape(web.group(2))} development")
    driver.wait_for(r"Serving HTTP on 127.0.0.1")
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(web.group(2), timeout=5) as response:
        assert response.status == 200

    driver.proc.send_signal(signal.SIGINT)
    assert driver.proc.wait(timeout=15) == 0, driver.output()
    assert gone(int(web.group(1)))
    assert gone(peer_pid)


def test_a_child_that_exits_stops_everything_and_fails(start: Callable[[str], Driver]) -> None:
    driver = start("crash")
    web_pid = int(driver.wait_for(r"^\s+web\s+pid (\d+)").group(1))
    assert driver.proc.wait(timeout=15) == 1
    assert "crasher exited unexpectedly (code 3)" in driver.output()
    assert gone(web_pid)


def test_a_failed_setup_step_starts_no_child(start: Callable[[str], Driver]) -> None:
    driver = start("bad-setup")
    assert driver.proc.wait(timeout=15) == 1
    output = driver.output()
    assert "setup failed with exit code 4" in output
    assert "Hearth is running" not in output


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    stubborn = Child("stubborn", (sys.executable, "-c", ""))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop_children([Running(stubborn, None, [], proc)], timeout=0.5)
    assert proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started == pytest.approx(0.5, abs=0.4)


def test_extra_ports_reach_the_argv_and_every_childs_environment(tmp_path: Path) -> None:
    """The mail sink's second port: its own argv names it, and every child learns it."""
    writer = (
        "import os, sys;"
        " open(sys.argv[1], 'w').write(os.environ['HEARTH_X_PORT'] + ' ' + sys.argv[2])"
    )
    sink = Child(
        "sink",
        (sys.executable, "-c", writer, str(tmp_path / "sink"), "{x_port}"),
        extra_ports=(("x_port", "HEARTH_X_PORT"),),
    )
    peer = Child("peer", (sys.executable, "-c", writer, str(tmp_path / "peer"), "-"))
    running = start_children([sink, peer], dict(os.environ))
    try:
        for entry in running:
            assert entry.proc.wait(timeout=15) == 0
    finally:
        stop_children(running)
    published, in_argv = (tmp_path / "sink").read_text().split()
    assert published == in_argv
    assert 0 < int(in_argv) < 65536
    assert (tmp_path / "peer").read_text() == f"{published} -"


# make run's real process table: one simulator's row beside a stand-in API that prints the
# URL the row published to it.
SIMULATOR_DRIVER = """
import sys
from infra.local.run import CHILDREN, Child, main, python

row = next(child for child in CHILDREN if child.name == {row!r})
peer = Child("peer", python("-c", '''
import os, time
print(f"peer sees {{os.environ[{variable!r}]}}", flush=True)
time.sleep(600)
'''))
sys.exit(main(["serve"], setup=[], children=[row, peer]))
"""


def test_the_clearinghouse_row_publishes_its_core_url() -> None:
    row = next(child for child in CHILDREN if child.name == "clearinghouse")
    assert row.url_env == "HEARTH_CLEARINGHOUSE_URL"
    assert row.url(8090) == "http://127.0.0.1:8090/core"


@contextmanager
def _simulator_row(tmp_path: Path, row: str, variable: str, port_variable: str) -> Iterator[str]:
    """make run with `row` and a stand-in API: the URL the row published (in the table too)."""
    env = {
        **os.environ,
        # Named servers that are never contacted: the stack uses them as given.
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/hearth",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        port_variable: "0",
        "PYTHONPATH": str(REPO),
    }
    log = tmp_path / "run.log"
    driver = SIMULATOR_DRIVER.format(row=row, variable=variable)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", driver], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"peer sees (http://127\.0\.0\.1:\S+)", log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        url = match.group(1)
        assert re.search(rf"{row}\s+pid \d+\s+{re.escape(url)}", log.read_text())
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, log.read_text()


def test_make_run_starts_the_simulator_for_the_api(tmp_path: Path) -> None:
    with _simulator_row(
        tmp_path, "clearinghouse", "HEARTH_CLEARINGHOUSE_URL", "HEARTH_CLEARINGHOUSE_PORT"
    ) as url:
        assert url.endswith("/core")
        deadline = time.monotonic() + 30
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


def test_make_run_starts_the_stripe_simulator_for_the_api(tmp_path: Path) -> None:
    with _simulator_row(
        tmp_path, "stripe", "HEARTH_STRIPE_API_BASE", "HEARTH_STRIPE_SIM_PORT"
    ) as url:
        # The official SDK with only its base address changed.
        client = stripe.StripeClient("sk_test_make_run", base_addresses={"api": url},
                                     max_network_retries=0)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.v1.customers.create().id.startswith("cus_")
                break
            except stripe.APIConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
