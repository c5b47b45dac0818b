"""The local SMTP sink (infra/mail) as a real process on free ports, once per xdist worker."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from tests.live import ROOT, process, wait_answering, wait_first_line


class MailSink(msgspec.Struct, frozen=True):
    smtp_port: int
    http_url: str

    def messages(self, to: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.http_url}/messages", params={"to": to}, timeout=5)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()
        return messages

    def wait_for(self, to: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        """The first `count` messages to `to`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.messages(to)) >= count:
                return found
            time.sleep(0.2)
        raise TimeoutError(f"fewer than {count} messages to {to} after {timeout} s")


_LISTENING = r"^listening on smtp://[0-9.]+:(\d+) (http://[0-9.]+:\d+)$"


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailSink]:
    """`python -m infra.mail` on free ports, storing under a temporary directory."""
    home = tmp_path_factory.mktemp("mail")
    log = home / "sink.log"
    args = [sys.executable, "-m", "infra.mail", "--host", "127.0.0.1", "--smtp-port", "0",
            "--http-port", "0", "--dir", str(home / "messages")]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with process(args, env, log) as proc:
        match = wait_first_line(log, proc, _LISTENING)
        sink = MailSink(smtp_port=int(match.group(1)), http_url=match.group(2))
        wait_answering(f"{sink.http_url}/health", log)
        yield sink
