"""`make run`: the local stack, migrations and demo data, then the API and the worker.

Every long-running process is a row of the process table (`Child`). A row with a port publishes
its URL to every child through its `url_env` variable, so a simulator added later (the
clearinghouse, Stripe) is one more row, and the API and workers find it through the environment,
the same way production finds the real services.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from infra.local.stack import LocalStack, ensure_database

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / ".data"
DATABASE_NAME = "hearth"
HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class Child:
    """One long-running process; `{port}` in argv is replaced by its port."""

    name: str
    argv: tuple[str, ...]
    port: int | None = None  # None: listens on nothing; 0: a free port chosen at start
    url_env: str | None = None  # the variable through which every child learns this one's URL
    url_path: str = ""  # appended to http://HOST:PORT in url_env (an endpoint, e.g. "/core")
    # More free ports: each (name, variable) replaces `{name}` in argv and is published, as a
    # bare port number, to every child through the variable (the mail sink's SMTP port).
    extra_ports: tuple[tuple[str, str], ...] = ()

    def url(self, port: int) -> str:
        return f"http://{HOST}:{port}{self.url_path}"


@dataclass(frozen=True)
class Step:
    """A command that must succeed before the children start."""

    name: str
    argv: tuple[str, ...]


def python(*args: str) -> tuple[str, ...]:
    return (sys.executable, *args)


SETUP: tuple[Step, ...] = (
    Step("migrate", python("-m", "services.cli", "migrate")),
    Step("load-demo-data", python("-m", "services.cli", "load-demo-data")),
)

# uvloop and httptools (dependencies) in place of asyncio and h11: named, so a missing one fails
# at start rather than quietly running slower.
API_ARGV = python("-m", "uvicorn", "services.app:create_served_app", "--factory",
                  "--loop", "uvloop", "--http", "httptools")  # fmt: skip
MAIL_ARGV = python("-m", "infra.mail", "--host", HOST, "--http-port", "{port}",
                   "--smtp-port", "{smtp_port}", "--dir", str(DATA_DIR / "mail"))  # fmt: skip
CHILDREN: tuple[Child, ...] = (
    # The payers' side: the API reaches its CORE endpoint through HEARTH_CLEARINGHOUSE_URL; on
    # port 8090 by default (the settings' default URL), where `make demo` has the payers pay.
    Child(
        "clearinghouse",
        python("-m", "infra.clearinghouse", "--host", HOST, "--port", "{port}"),
        int(os.environ.get("HEARTH_CLEARINGHOUSE_PORT", "8090")),  # 0: any free port
        "HEARTH_CLEARINGHOUSE_URL",
        "/core",
    ),
    # Stripe (localstripe with our extensions): the SDK's base address is HEARTH_STRIPE_API_BASE;
    # it delivers signed webhooks to the API's /webhooks/stripe. On port 8420 by default (the
    # settings' default base address), where `make demo` confirms cards as Stripe.js would.
    Child(
        "stripe",
        python("-m", "infra.stripe", "--host", HOST, "--port", "{port}", "--webhook-to-api"),
        int(os.environ.get("HEARTH_STRIPE_SIM_PORT", "8420")),  # 0: any free port
        "HEARTH_STRIPE_API_BASE",
    ),
    # The SMTP sink: the worker mails through HEARTH_SMTP_PORT; the demo reads what arrived
    # at HEARTH_MAIL_SINK_URL (messages are also files under .data/mail).
    Child(
        "mail",
        MAIL_ARGV,
        int(os.environ.get("HEARTH_MAIL_SINK_PORT", "8025")),  # 0: any free port
        "HEARTH_MAIL_SINK_URL",
        extra_ports=(("smtp_port", "HEARTH_SMTP_PORT"),),
    ),
    Child(
        "api",
        (*API_ARGV, "--host", HOST, "--port", "{port}"),
        int(os.environ.get("HEARTH_API_PORT", "8000")),  # 0: any free port (tests)
        "HEARTH_API_URL",
    ),
    Child("worker", python("-m", "arq", "workers.settings.WorkerSettings")),
)


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: stop everything in order."""


class SetupFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def _request_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def _set_signals(handler: Callable[[int, FrameType | None], object] | signal.Handlers) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def run_setup(steps: Sequence[Step], env: Mapping[str, str]) -> None:
    for step in steps:
        log(f"{step.name}: {shlex.join(step.argv)}")
        code = subprocess.run(step.argv, cwd=REPO, env=env, check=False).returncode
        if code != 0:
            raise SetupFailed(f"{step.name} failed with exit code {code}")


def _die_with_parent(parent: int) -> None:
    # Linux: the child gets SIGTERM when run.py dies, even by SIGKILL, so no orphan keeps port
    # 8000. PR_SET_PDEATHSIG is 1; if the parent is already gone, give up at once.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


@dataclass
class Running:
    child: Child
    port: int | None
    argv: list[str]
    proc: subprocess.Popen[bytes]


def start_children(children: Sequence[Child], env: Mapping[str, str]) -> list[Running]:
    ports: dict[str, int | None] = {}
    for child in children:
        if child.port is None:
            ports[child.name] = None
        elif child.port == 0:
            ports[child.name] = free_port()
        elif port_in_use(child.port):
            raise SetupFailed(f"{child.name}: port {child.port} on {HOST} is already in use")
        else:
            ports[child.name] = child.port
    child_env = dict(env)
    extra: dict[str, dict[str, int]] = {}
    for child in children:
        if child.url_env is not None and (port := ports[child.name]) is not None:
            child_env[child.url_env] = child.url(port)
        extra[child.name] = {name: free_port() for name, _ in child.extra_ports}
        for name, variable in child.extra_ports:
            child_env[variable] = str(extra[child.name][name])

    parent = os.getpid()
    running: list[Running] = []
    for child in children:
        port = ports[child.name]
        argv = [arg.replace("{port}", str(port)) for arg in child.argv]
        for name, value in extra[child.name].items():
            argv = [arg.replace(f"{{{name}}}", str(value)) for arg in argv]
        # A session of its own: a terminal Ctrl-C reaches run.py only, which stops the
        # children in order; killpg then reaches whatever a child started itself.
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=child_env,
            start_new_session=True,
            preexec_fn=(lambda: _die_with_parent(parent)) if sys.platform == "linux" else None,
        )
        running.append(Running(child, port, argv, proc))
    return running


def watch(running: Sequence[Running]) -> int:
    """Wait until a child exits (returns 1) or a signal raises StopRequested."""
    while True:
        for entry in running:
            code = entry.proc.poll()
            if code is not None:
                log(f"{entry.child.name} exited unexpectedly (code {code}); stopping everything")
                return 1
        time.sleep(POLL_INTERVAL)


def stop_children(running: Sequence[Running], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every child's process group, then SIGKILL what is left after `timeout`."""
    for entry in running:
        if entry.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for entry in running:
        try:
            entry.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{entry.child.name} ignored SIGTERM for {timeout:g} s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry.proc.pid, signal.SIGKILL)
            entry.proc.wait()
        # Its group may outlive it (a worker process it forked): leave nothing behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(entry.proc.pid, signal.SIGKILL)


def print_table(stack: LocalStack, env: Mapping[str, str], running: Sequence[Running]) -> None:
    rows = [
        ("postgres", stack.postgres_source, env["DATABASE_URL"], ""),
        ("redis", stack.redis_source, env["REDIS_URL"], ""),
    ]
    for entry in running:
        url = entry.child.url(entry.port) if entry.port is not None else ""
        rows.append((entry.child.name, f"pid {entry.proc.pid}", url, shlex.join(entry.argv)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(
            ["", *(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]]
        ).rstrip()
        for row in rows
    ]
    # One write: the children share this stdout and would cut into a line-by-line print.
    sys.stdout.write("\n".join(["Hearth is running (Ctrl-C stops everything):", *lines, ""]))
    sys.stdout.flush()


def stack_env(stack: LocalStack) -> dict[str, str]:
    env = dict(os.environ)
    if "DATABASE_URL" not in env:
        env["DATABASE_URL"] = ensure_database(stack.server_url, DATABASE_NAME)
    env["REDIS_URL"] = stack.redis_url
    env.setdefault("HEARTH_ENV", "development")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def serve(stack: LocalStack, env: Mapping[str, str], children: Sequence[Child]) -> int:
    running: list[Running] = []
    try:
        running = start_children(children, env)
        print_table(stack, env, running)
        return watch(running)
    except StopRequested as stop:
        log(f"{stop} received; stopping")
        return 0
    finally:
        # Stopping is bounded by STOP_TIMEOUT; a second Ctrl-C must not cut it short and
        # leave children or embedded servers behind.
        _set_signals(signal.SIG_IGN)
        stop_children(running)


def main(
    argv: Sequence[str] | None = None,
    *,
    setup: Sequence[Step] = SETUP,
    children: Sequence[Child] = CHILDREN,
    data_dir: Path = DATA_DIR,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.run")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default): set up, then run every child; migrate: set up only",
    )
    args = parser.parse_args(argv)
    steps = [step for step in setup if args.command == "serve" or step.name == "migrate"]
    _set_signals(_request_stop)
    try:
        with contextlib.ExitStack() as cleanup:
            stack = cleanup.enter_context(LocalStack(data_dir))
            # Runs first on the way out: the embedded servers stop undisturbed by more signals.
            cleanup.callback(_set_signals, signal.SIG_IGN)
            env = stack_env(stack)
            run_setup(steps, env)
            if args.command == "migrate":
                return 0
            return serve(stack, env, children)
    except SetupFailed as error:
        log(f"{error}; stopped")
        return 1
    except StopRequested as stop:
        log(f"{stop} received during start-up; stopped")
        return 0


if __name__ == "__main__":
    sys.exit(main())
