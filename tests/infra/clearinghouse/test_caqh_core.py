"""The CORE envelope: credentials, required fields and values, repeats, and the test switches."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import httpx
import pytest

from tests.infra.clearinghouse.conftest import envelope, fixture, post_core

JORDAN = "270_jordan_lee.x12"


async def test_success_envelope(ch: httpx.AsyncClient) -> None:
    request = envelope(fixture(JORDAN))
    started = time.monotonic()
    response, fields = await post_core(ch, request)
    assert time.monotonic() - started < 20  # CORE real time: an answer within 20 seconds
    assert response.status_code == 200
    assert fields["PayloadType"] == "X12_271_Response_005010X279A1"
    assert fields["ProcessingMode"] == "RealTime"
    assert fields["PayloadID"] == request["PayloadID"]
    assert fields["SenderID"] == "HEARTHCH"
    assert fields["ReceiverID"] == "HEARTH"
    assert fields["CORERuleVersion"] == "2.2.0"
    assert fields["ErrorCode"] == "Success"
    assert fields["ErrorMessage"] == ""
    assert datetime.fromisoformat(fields["TimeStamp"]).utcoffset() is not None
    assert fields["Payload"].startswith("ISA*00*")
    assert "ST*271*0001*005010X279A1~" in fields["Payload"]


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"Password": "wrong"}, 401, "UnAuthorized"),
        ({"UserName": "someone"}, 401, "UnAuthorized"),
        ({"UserName": None, "Password": None}, 401, "UnAuthorized"),
        ({"SenderID": "OTHER"}, 401, "UnAuthorized"),
        ({"PayloadID": None}, 400, "PayloadIDRequired"),
        ({"PayloadID": ""}, 400, "PayloadIDRequired"),
        ({"PayloadType": None}, 400, "PayloadTypeRequired"),
        ({"ProcessingMode": None}, 400, "ProcessingModeRequired"),
        ({"TimeStamp": None}, 400, "TimeStampRequired"),
        ({"ReceiverID": None}, 400, "ReceiverIDRequired"),
        ({"CORERuleVersion": None}, 400, "CORERuleVersionRequired"),
        ({"Payload": None}, 400, "PayloadRequired"),
        ({"CORERuleVersion": "2.1.0"}, 400, "VersionMismatch"),
        ({"PayloadType": "X12_276_Request_005010X212"}, 400, "PayloadTypeIllegal"),
        ({"ProcessingMode": "Batch"}, 400, "ProcessingModeIllegal"),
        ({"PayloadID": "not-a-uuid"}, 400, "PayloadIDIllegal"),
        ({"TimeStamp": "yesterday"}, 400, "TimeStampIllegal"),
        ({"TimeStamp": "2026-11-26T10:30:00"}, 400, "TimeStampIllegal"),  # no UTC offset
        ({"ReceiverID": "ELSEWHERE"}, 400, "ReceiverIDIllegal"),
        ({"Payload": "this is not X12"}, 400, "PayloadIllegal"),
    ],
)
async def test_envelope_errors(
    ch: httpx.AsyncClient, overrides: dict[str, str | None], status: int, code: str
) -> None:
    request = envelope(fixture(JORDAN), **overrides)
    response, fields = await post_core(ch, request)
    assert response.status_code == status
    assert fields["PayloadType"] == "CoreEnvelopeError"
    assert fields["ErrorCode"] == code
    assert fields["ErrorMessage"]
    assert fields["ProcessingMode"] == "RealTime"
    assert fields["CORERuleVersion"] == "2.2.0"
    assert fields["PayloadID"] == request.get("PayloadID", "")
    assert fields.get("Payload", "") == ""


async def test_an_envelope_error_is_not_remembered(ch: httpx.AsyncClient) -> None:
    request = envelope(fixture(JORDAN), Password="wrong")
    response, _ = await post_core(ch, request)
    assert response.status_code == 401
    response, fields = await post_core(ch, {**request, "Password": "hearth-sim-password"})
    assert response.status_code == 200
    assert fields["ErrorCode"] == "Success"


async def test_not_multipart_is_an_envelope_error(ch: httpx.AsyncClient) -> None:
    response = await ch.post("/core", content=b"hello", headers={"content-type": "text/plain"})
    assert response.status_code == 401  # no credentials can be read from it


async def test_repeated_payload_id_returns_the_first_answer(ch: httpx.AsyncClient) -> None:
    request = envelope(fixture(JORDAN))
    first = await post_core(ch, request)
    # The same PayloadID with another payload and a later time stamp: still the first answer.
    repeat = envelope(fixture("270_riley_chen.x12"), PayloadID=request["PayloadID"])
    again = await post_core(ch, repeat)
    assert again[0].status_code == first[0].status_code == 200
    assert again[1] == first[1]
    fresh = await post_core(ch, envelope(fixture(JORDAN)))
    assert fresh[1]["Payload"] != first[1]["Payload"]  # a new PayloadID is processed anew


async def test_concurrent_repeats_are_processed_once(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "slow", "delay_s": 0.3})
    request = envelope(fixture(JORDAN))
    answers = await asyncio.gather(*(post_core(ch, request) for _ in range(5)))
    payloads = {fields["Payload"] for _, fields in answers}
    assert len(payloads) == 1
    assert all(response.status_code == 200 for response, _ in answers)


async def test_an_aaa42_answer_is_not_kept_for_the_payload_id(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "aaa42"})
    request = envelope(fixture(JORDAN))
    _, unable = await post_core(ch, request)
    assert "AAA*Y**42*R~" in unable["Payload"]
    await ch.post("/_admin/mode", json={"mode": "normal"})
    _, retried = await post_core(ch, request)
    assert "AAA" not in retried["Payload"]
    assert "EB*B*IND*MH***27*30*****Y~" in retried["Payload"]
    _, again = await post_core(ch, request)
    assert again == retried  # the real answer is kept


async def test_reset_forgets_payload_ids(ch: httpx.AsyncClient) -> None:
    request = envelope(fixture(JORDAN))
    _, first = await post_core(ch, request)
    assert (await ch.post("/_admin/reset")).json() == {"mode": "normal", "delay_s": 0.0}
    _, second = await post_core(ch, request)
    assert second["ErrorCode"] == "Success"
    assert second["Payload"] != first["Payload"]  # processed again: new control numbers


async def test_down_answers_503_until_reset(ch: httpx.AsyncClient) -> None:
    response = await ch.post("/_admin/mode", json={"mode": "down"})
    assert response.json() == {"mode": "down", "delay_s": 0.0}
    response = await ch.post("/core", files={"Payload": (None, fixture(JORDAN))})
    assert response.status_code == 503
    assert (await ch.get("/_admin/health")).json() == {"status": "ok", "mode": "down",
                                                       "delay_s": 0.0}  # fmt: skip
    await ch.post("/_admin/reset")
    response, fields = await post_core(ch, envelope(fixture(JORDAN)))
    assert response.status_code == 200
    assert fields["ErrorCode"] == "Success"


async def test_slow_delays_the_answer(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "slow", "delay_s": 1.0})
    started = time.monotonic()
    response, _ = await post_core(ch, envelope(fixture(JORDAN)))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 1.0 <= elapsed < 5
    with pytest.raises(httpx.ReadTimeout):  # what a client with a short timeout sees
        await ch.post("/core", files={"Payload": (None, "x")}, timeout=0.3)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "sideways"},
        {"mode": "slow", "delay_s": -1},
        {"mode": "slow", "delay_s": "1"},
        {"mode": "slow", "delay_s": True},
        {},
    ],
)
async def test_admin_mode_refuses_bad_input(ch: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await ch.post("/_admin/mode", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert (await ch.get("/_admin/health")).json()["mode"] == "normal"


async def test_health(ch: httpx.AsyncClient) -> None:
    response = await ch.get("/_admin/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mode": "normal", "delay_s": 0.0}


async def test_payload_id_is_per_sender_uuid(ch: httpx.AsyncClient) -> None:
    payload_id = str(uuid.uuid4()).upper()  # a UUID in capitals is still a UUID
    response, fields = await post_core(ch, envelope(fixture(JORDAN), PayloadID=payload_id))
    assert response.status_code == 200
    assert fields["PayloadID"] == payload_id
