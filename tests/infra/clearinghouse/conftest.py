"""The clearinghouse simulator as a real process on a free port, and a CORE client for tests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

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


# --- batch mode (837P in; 999, TA1 and 277CA out) ----------------------------------------------

SUBMIT_837 = "X12_837_Request_005010X222A1"
RETRIEVE_999 = "X12_999_RetrievalRequest_005010X231A1"
RETRIEVE_277 = "X12_005010_Request_Batch_Results_277"


def batch_envelope(
    payload: str, payload_type: str = SUBMIT_837, **overrides: str | None
) -> dict[str, str]:
    """A CORE batch request: PayloadLength and CheckSum (SHA-1) computed from the payload."""
    fields = envelope(payload, PayloadType=payload_type, ProcessingMode="Batch")
    fields["PayloadLength"] = str(len(payload.encode()))
    fields["CheckSum"] = hashlib.sha1(payload.encode()).hexdigest()
    for name, value in overrides.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


async def submit(client: httpx.AsyncClient, text: str) -> str:
    """Submit an 837P batch; its PayloadID, for the retrievals."""
    request = batch_envelope(text)
    response, fields = await post_core(client, request)
    assert response.status_code == 200, fields
    assert fields["PayloadType"] == "X12_Response_ConfirmReceiptReceived"
    return request["PayloadID"]


async def retrieve(client: httpx.AsyncClient, kind: str, payload_id: str) -> tuple[str, str]:
    """(PayloadType, Payload) of a 999 or 277CA retrieval for the batch `payload_id`."""
    response, fields = await post_core(client, batch_envelope(payload_id, kind))
    assert response.status_code == 200, fields
    assert fields["ErrorCode"] == "Success"
    assert fields["ProcessingMode"] == "Batch"
    payload = fields.get("Payload", "")
    if payload:
        assert fields["PayloadLength"] == str(len(payload.encode()))
        assert fields["CheckSum"] == hashlib.sha1(payload.encode()).hexdigest()
    return fields["PayloadType"], payload


async def results(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The payers' adjudicated claims, by CLM01."""
    items = (await client.get("/_admin/claims")).json()["items"]
    return {item["claim_id"]: item for item in items}


def x12valid(text: str, tmp_path: Path, name: str = "file.x12") -> None:
    """pyx12's verdict on `text` (it exits 1 either way: read its FILE line on stderr)."""
    path = tmp_path / name
    path.write_text(text)
    tool = Path(sys.executable).parent / "x12valid"
    run = subprocess.run([str(tool), str(path)], capture_output=True, text=True, check=False)
    assert f"{path}: OK" in run.stderr, run.stderr
