"""Real processes for tests: the API under uvicorn, the arq worker, and waiting for them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from services.core import clock

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HEARTH_ENV": "test",
        "HEARTH_ARGON2_TIME_COST": "1",
        "HEARTH_ARGON2_MEMORY_KIB": "1024",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("HEARTH_CLOCK_SHIFT_TO", None)
    env.pop("HEARTH_CLOCK_SHIFT_FROM", None)
    now, real = clock.now(), datetime.now(UTC)
    if abs(now - real) > timedelta(seconds=1):
        # This process's clock is shifted (a CI run as on another day) or set by the test: the
        # child's clock reads this one's now at this real instant, so the two agree.
        env["HEARTH_CLOCK_SHIFT_TO"] = now.isoformat()
        env["HEARTH_CLOCK_SHIFT_FROM"] = real.isoformat()
    env.update(extra)
    return env


@contextmanager
def process(
    args: list[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child for the duration of the block; its output goes to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=dict(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_first_line(log: Path, proc: subprocess.Popen[bytes], pattern: str,
                    timeout: float = 20) -> re.Match[str]:  # fmt: skip
    """The match of `pattern` on the first line a server prints once its sockets are bound."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text() if log.exists() else ""
        if "\n" in text and (match := re.match(pattern, text.partition("\n")[0])):
            return match
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} did not start:\n{text[-3000:]}")
        time.sleep(0.05)


def wait_answering(url: str, log: Path, timeout: float = 20) -> None:
    """Until GET `url` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(log.read_text()[-3000:])
        time.sleep(0.05)


def wait_ready(
    base_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def wait_until(
    done: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Until `done()` holds; at once with the log's tail if the process exits, else after
    `timeout` seconds (a bound, not a pause: the wait ends when the condition does)."""
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def wait_worker_started(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Until arq says it is starting (its imports done: on a loaded machine they, not the job,
    take the time), so a test's wait for a job starts when the worker can run one."""
    wait_until(lambda: log.exists() and "Starting worker" in log.read_text(), proc, log, timeout)


@contextmanager
def api_server(env: Mapping[str, str], log_dir: Path) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = log_dir / f"api-{port}.log"
    args = [
        sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    with process(args, env, log) as proc:
        wait_ready(base_url, proc, log)
        yield base_url
