"""The CORE HTTP client against a real local HTTP server (a thread, no mock of httpx)."""

from __future__ import annotations

import email.parser
import email.policy
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.clearinghouse.caqh_core import PAYLOAD_270, Credentials
from services.clearinghouse.client import CoreHttpClient
from services.clearinghouse.errors import (
    ClearinghouseError,
    ClearinghouseUnavailable,
    EnvelopeRejected,
)
from services.core.settings import load_settings

CREDS = Credentials("hearth", "hearth-sim-password", "HEARTH", "HEARTHCH")
X12_270 = "ISA*00*~ST*270*0001~"
X12_271 = "ISA*00*~ST*271*0001~"


@dataclass
class Script:
    """What the server answers, one action per request (the last one repeats)."""

    actions: list[tuple[str, object]] = field(default_factory=lambda: [("ok", None)])
    requests: list[dict[str, str]] = field(default_factory=list)


def _fields(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    return {
        str(part.get_param("name", header="content-disposition")): part.get_content()
        for part in message.iter_parts()
    }


def _multipart(fields: dict[str, str]) -> bytes:
    return (
        b"".join(
            f'--XYZ\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        + b"--XYZ--\r\n"
    )


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = _fields(self.headers["Content-Type"], body)
            index = len(script.requests)
            script.requests.append(request)
            action, arg = script.actions[min(index, len(script.actions) - 1)]
            if action == "status":
                self.send_response(int(str(arg)))
                self.end_headers()
                return
            if action == "slow":
                time.sleep(float(str(arg)))
            answer = {
                "PayloadType": "X12_271_Response_005010X279A1",
                "ProcessingMode": "RealTime",
                "PayloadID": request["PayloadID"],
                "TimeStamp": "2026-11-26T09:30:05Z",
                "SenderID": "HEARTHCH",
                "ReceiverID": "HEARTH",
                "CORERuleVersion": "2.2.0",
                "ErrorCode": "Success",
                "ErrorMessage": "",
                "Payload": X12_271,
            }
            if action == "envelope_error":
                answer.update(PayloadType="CoreEnvelopeError", ErrorCode=str(arg), Payload="")
                answer["ErrorMessage"] = "UserName or Password is wrong"
            if action == "other_id":
                answer["PayloadID"] = str(uuid.uuid4())
            out = b"not a CORE answer" if action == "garbage" else _multipart(answer)
            kind = "text/plain" if action == "garbage" else "multipart/form-data; boundary=XYZ"
            try:
                self.send_response(401 if action == "envelope_error" else 200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a slow answer the client stopped waiting for

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/core", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(url: str, *, timeout_s: float = 2.0, deadline_s: float = 5.0) -> CoreHttpClient:
    return CoreHttpClient(
        url=url,
        credentials=CREDS,
        timeout_s=timeout_s,
        deadline_s=deadline_s,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
    )


async def test_success_sends_the_core_envelope(server: tuple[str, Script]) -> None:
    url, script = server
    c = client(url)
    try:
        assert await c.realtime(PAYLOAD_270, X12_270) == X12_271
    finally:
        await c.aclose()
    (request,) = script.requests
    assert request["PayloadType"] == "X12_270_Request_005010X279A1"
    assert (request["ProcessingMode"], request["CORERuleVersion"]) == ("RealTime", "2.2.0")
    assert (request["UserName"], request["Password"]) == ("hearth", "hearth-sim-password")
    assert (request["SenderID"], request["ReceiverID"]) == ("HEARTH", "HEARTHCH")
    assert request["Payload"] == X12_270
    assert uuid.UUID(request["PayloadID"])
    assert request["TimeStamp"].endswith("Z")


async def test_503_then_200_retries_with_the_same_payload_id(server: tuple[str, Script]) -> None:
    url, script = server
    script.actions = [("status", 503), ("status", 502), ("ok", None)]
    c = client(url)
    try:
        assert await c.realtime(PAYLOAD_270, X12_270) == X12_271
    finally:
        await c.aclose()
    assert len(script.requests) == 3
    assert len({r["PayloadID"] for r in script.requests}) == 1


async def test_connect_refused_gives_unavailable_after_the_deadline() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = client(f"http://127.0.0.1:{port}/core", timeout_s=0.5, deadline_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(ClearinghouseUnavailable, match="ConnectError") as caught:
            await c.realtime(PAYLOAD_270, X12_270)
    finally:
        await c.aclose()
    elapsed = time.monotonic() - started
    # Retried until the deadline (1 s), not past it; the upper bound leaves room for a loaded
    # machine (a run under four parallel test suites took 1.5 s), not for a missed deadline.
    assert 0.7 <= elapsed <= 3.0, elapsed
    assert caught.value.status == 503
    assert caught.value.code == "clearinghouse_unavailable"


async def test_slow_server_times_out_and_retries_with_the_same_id(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.actions = [("slow", 3.0)]
    c = client(url, timeout_s=0.3, deadline_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(ClearinghouseUnavailable, match="ReadTimeout"):
            await c.realtime(PAYLOAD_270, X12_270)
    finally:
        await c.aclose()
    assert time.monotonic() - started <= 1.5
    assert len(script.requests) >= 2
    assert len({r["PayloadID"] for r in script.requests}) == 1


async def test_slow_then_fast_succeeds(server: tuple[str, Script]) -> None:
    url, script = server
    script.actions = [("slow", 1.0), ("ok", None)]
    c = client(url, timeout_s=0.3, deadline_s=3.0)
    try:
        assert await c.realtime(PAYLOAD_270, X12_270) == X12_271
    finally:
        await c.aclose()
    assert len({r["PayloadID"] for r in script.requests}) == 1


async def test_envelope_error_is_final_and_mapped(server: tuple[str, Script]) -> None:
    url, script = server
    script.actions = [("envelope_error", "Unauthorized")]
    c = client(url)
    try:
        with pytest.raises(EnvelopeRejected) as caught:
            await c.realtime(PAYLOAD_270, X12_270)
    finally:
        await c.aclose()
    assert len(script.requests) == 1  # never retried
    assert (caught.value.error_code, caught.value.status) == ("Unauthorized", 502)
    assert "UserName or Password is wrong" in caught.value.detail


@pytest.mark.parametrize(
    ("action", "message"),
    [("garbage", "without a CORE envelope"), ("other_id", "PayloadID"), ("status_400", "HTTP 400")],
)
async def test_non_core_answers_are_final_errors(
    server: tuple[str, Script], action: str, message: str
) -> None:
    url, script = server
    script.actions = [("status", 400)] if action == "status_400" else [(action, None)]
    c = client(url)
    try:
        with pytest.raises(ClearinghouseError, match=message):
            await c.realtime(PAYLOAD_270, X12_270)
    finally:
        await c.aclose()
    assert len(script.requests) == 1


async def test_from_settings_uses_the_configured_endpoint(server: tuple[str, Script]) -> None:
    url, script = server
    settings = load_settings(
        {
            "HEARTH_ENV": "test",
            "HEARTH_CLEARINGHOUSE_URL": url,
            "HEARTH_CLEARINGHOUSE_USERNAME": "someone",
            "HEARTH_CLEARINGHOUSE_PASSWORD": "secret-2",
            "HEARTH_CLEARINGHOUSE_SENDER_ID": "SENDER1",
            "HEARTH_CLEARINGHOUSE_RECEIVER_ID": "RECV1",
        }
    )
    c = CoreHttpClient.from_settings(settings)
    try:
        assert await c.realtime(PAYLOAD_270, X12_270) == X12_271
    finally:
        await c.aclose()
    (request,) = script.requests
    assert (request["UserName"], request["Password"]) == ("someone", "secret-2")
    assert (request["SenderID"], request["ReceiverID"]) == ("SENDER1", "RECV1")
