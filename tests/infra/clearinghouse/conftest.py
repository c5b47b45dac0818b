"""The clearinghouse simulator as a real process on a free port, and a CORE client for tests."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

import httpx
import pytest

from tests.live import ROOT, process

FIXTURES = Path(__file__).with_name("fixtures")
USER, PASSWORD = "hearth", "hearth-sim-password"
# 270s without DTP*291 are answered as of this date (the brief's figures hold on it).
TODAY = "2026-11-26"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _wait_listening(log: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = log.read_text().partition("\n")[0] if log.exists() else ""
        if first.startswith("listening on http://") and log.read_text().count("\n"):
            return first.removeprefix("listening on ")
        time.sleep(0.05)
    raise TimeoutError(f"simulator did not start:\n{log.read_text()}")


@pytest.fixture(scope="session")
def clearinghouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a simulator started with `python -m infra.clearinghouse --port 0`."""
    log = tmp_path_factory.mktemp("clearinghouse") / "clearinghouse.log"
    args = [sys.executable, "-m", "infra.clearinghouse", "--host", "127.0.0.1", "--port", "0",
            "--today", TODAY]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with process(args, env, log) as proc:
        assert proc.poll() is None
        base = _wait_listening(log)
        deadline = time.monotonic() + 20
        while httpx.get(f"{base}/_admin/health", timeout=2).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(log.read_text())
            time.sleep(0.05)
        yield base


@pytest.fixture
async def ch(clearinghouse: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=clearinghouse, timeout=30) as client:
        assert (await client.post("/_admin/reset")).status_code == 200
        yield client
        await client.post("/_admin/reset")


def envelope(payload: str, **overrides: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "PayloadType": "X12_270_Request_005010X279A1",
        "ProcessingMode": "RealTime",
        "PayloadID": str(uuid.uuid4()),
        "TimeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SenderID": "HEARTH",
        "ReceiverID": "HEARTHCH",
        "CORERuleVersion": "2.2.0",
        "UserName": USER,
        "Password": PASSWORD,
        "Payload": payload,
    }
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


def read_multipart(response: httpx.Response) -> dict[str, str]:
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + response.content)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        body = part.get_payload(decode=True)
        fields[str(name)] = body.decode() if isinstance(body, bytes) else ""
    return fields


async def post_core(
    client: httpx.AsyncClient, fields: dict[str, str]
) -> tuple[httpx.Response, dict[str, str]]:
    files = {name: (None, value) for name, value in fields.items()}
    response = await client.post("/core", files=files)
    return response, read_multipart(response)


async def ask(client: httpx.AsyncClient, name: str) -> str:
    """The 271 answering fixture `name`."""
    response, fields = await post_core(client, envelope(fixture(name)))
    assert response.status_code == 200, fields
    assert fields["ErrorCode"] == "Success"
    assert fields["PayloadType"] == "X12_271_Response_005010X279A1"
    return fields["Payload"]


def segments(x12: str) -> list[str]:
    """Segments with `*` as element separator, whatever the interchange used."""
    element, segment_end = x12[3], x12[105]
    return [s.replace(element, "*") for s in x12.split(segment_end) if s]


def loops(x12: str) -> list[tuple[str, str]]:
    """(loop id, segment) pairs for a 271, by HL level and position."""
    out, loop = [], "header"
    letter = {"20": "A", "21": "B", "22": "C", "23": "D"}
    for seg in segments(x12):
        tag = seg.split("*")[0]
        if tag == "HL":
            loop = "2000" + letter[seg.split("*")[3]]
        elif tag == "NM1" and loop.startswith("2000"):
            loop = "2100" + loop[-1]
        elif tag == "EB" and loop.startswith("21"):
            loop = "2110" + loop[-1]
        elif tag == "LS":
            loop = "2120" + loop[-1]
        elif tag == "LE":
            loop = "2110" + loop[-1]
        elif tag in ("SE", "GE", "IEA"):
            loop = "trailer"
        out.append((loop, seg))
    return out
