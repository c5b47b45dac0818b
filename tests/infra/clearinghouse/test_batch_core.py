"""CORE batch mode: an 837P submission, its receipt, the 999 and 277CA retrievals, the switches."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.infra.clearinghouse.conftest import (
    RETRIEVE_277,
    RETRIEVE_999,
    batch_envelope,
    fixture,
    post_core,
    results,
    retrieve,
    submit,
)

ACCEPTED = "837_accepted.x12"


async def test_submission_confirms_receipt(ch: httpx.AsyncClient) -> None:
    request = batch_envelope(fixture(ACCEPTED))
    response, fields = await post_core(ch, request)
    assert response.status_code == 200
    assert fields["PayloadType"] == "X12_Response_ConfirmReceiptReceived"
    assert fields["ProcessingMode"] == "Batch"
    assert fields["PayloadID"] == request["PayloadID"]
    assert (fields["SenderID"], fields["ReceiverID"]) == ("HEARTHCH", "HEARTH")
    assert (fields["ErrorCode"], fields["ErrorMessage"]) == ("Success", "")
    assert fields["Payload"] == ""  # the results come with the retrievals, never in this answer
    assert len(await results(ch)) == 10


async def test_retrievals_fetch_the_batchs_999_and_277ca(ch: httpx.AsyncClient) -> None:
    payload_id = await submit(ch, fixture(ACCEPTED))
    kind, ack = await retrieve(ch, RETRIEVE_999, payload_id)
    assert kind == "X12_999_Response_005010X231A1"
    assert "AK1*HC*501*005010X222A1~" in ack
    kind, claims = await retrieve(ch, RETRIEVE_277, payload_id)
    assert kind == "X12_005010_Response_Batch_Results_277"
    assert "ST*277*0001*005010X214~" in claims
    assert claims.count("STC*A2:20*") == 10
    # Fetching again gives the same files: retrieval never processes the batch again.
    assert await retrieve(ch, RETRIEVE_277, payload_id) == (kind, claims)


async def test_an_unknown_batch_has_no_files(ch: httpx.AsyncClient) -> None:
    unknown = str(uuid.uuid4())
    assert await retrieve(ch, RETRIEVE_999, unknown) == ("X12_NoBatchAckFile", "")
    assert await retrieve(ch, RETRIEVE_277, unknown) == ("X12_NoBatchResultsFile", "")


async def test_a_repeated_payload_id_gets_its_first_answer_and_is_processed_once(
    ch: httpx.AsyncClient,
) -> None:
    request = batch_envelope(fixture(ACCEPTED))
    first = await post_core(ch, request)
    again = await post_core(ch, request)
    assert again[1] == first[1]
    # Another payload under the same PayloadID: still the first answer, nothing read.
    other = batch_envelope(fixture("837_denied.x12"), PayloadID=request["PayloadID"])
    assert (await post_core(ch, other))[1] == first[1]
    adjudicated = await results(ch)
    assert len(adjudicated) == 10
    assert "TBRK1" not in adjudicated
    assert adjudicated["JLEE1"]["payer_claim_number"] == "EVGRN00000001"


async def test_concurrent_repeats_of_a_batch_are_processed_once(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "slow", "delay_s": 0.3})
    request = batch_envelope(fixture(ACCEPTED))
    answers = await asyncio.gather(*(post_core(ch, request) for _ in range(5)))
    assert {response.status_code for response, _ in answers} == {200}
    assert all(fields == answers[0][1] for _, fields in answers)  # the first answer, each time
    assert len(await results(ch)) == 10  # not 50
    assert max(int(r["payer_claim_number"][5:]) for r in (await results(ch)).values()) == 8


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"CheckSum": "0" * 40}, 400, "CheckSumIllegal"),
        ({"CheckSum": None}, 400, "CheckSumRequired"),
        ({"PayloadLength": "12"}, 400, "PayloadLengthIllegal"),
        ({"PayloadLength": None}, 400, "PayloadLengthRequired"),
        ({"ProcessingMode": "RealTime"}, 400, "ProcessingModeIllegal"),
        ({"Password": "wrong"}, 401, "UnAuthorized"),
        ({"SenderID": "OTHER"}, 401, "UnAuthorized"),
        ({"ReceiverID": "ELSEWHERE"}, 400, "ReceiverIDIllegal"),
        ({"PayloadID": "batch-1"}, 400, "PayloadIDIllegal"),
        ({"CORERuleVersion": "2.1.0"}, 400, "VersionMismatch"),
    ],
)
async def test_batch_envelope_errors(
    ch: httpx.AsyncClient, overrides: dict[str, str | None], status: int, code: str
) -> None:
    request = batch_envelope(fixture(ACCEPTED), **overrides)
    response, fields = await post_core(ch, request)
    assert response.status_code == status
    assert fields["PayloadType"] == "CoreEnvelopeError"
    assert fields["ErrorCode"] == code
    assert fields["ProcessingMode"] == "Batch"
    assert await results(ch) == {}  # nothing was processed
    # An envelope error is not the PayloadID's answer: the corrected request is processed.
    if "PayloadID" not in overrides:
        fixed = batch_envelope(fixture(ACCEPTED), PayloadID=request["PayloadID"])
        assert (await post_core(ch, fixed))[0].status_code == 200
        assert len(await results(ch)) == 10


async def test_a_payload_that_is_not_x12_is_an_envelope_error(ch: httpx.AsyncClient) -> None:
    response, fields = await post_core(ch, batch_envelope("claims, please"))
    assert response.status_code == 400
    assert (fields["PayloadType"], fields["ErrorCode"]) == ("CoreEnvelopeError", "PayloadIllegal")


async def test_down_refuses_batches_until_reset(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "down"})
    files = {name: (None, value) for name, value in batch_envelope(fixture(ACCEPTED)).items()}
    assert (await ch.post("/core", files=files)).status_code == 503
    assert await results(ch) == {}
    await ch.post("/_admin/reset")
    assert (await ch.post("/core", files=files)).status_code == 200


async def test_slow_delays_batch_answers(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "slow", "delay_s": 1.0})
    started = time.monotonic()
    await submit(ch, fixture(ACCEPTED))
    assert 1.0 <= time.monotonic() - started < 5


async def test_envelope_error_switch_is_not_kept_for_the_payload_id(ch: httpx.AsyncClient) -> None:
    await ch.post("/_admin/mode", json={"mode": "envelope_error"})
    request = batch_envelope(fixture(ACCEPTED))
    response, fields = await post_core(ch, request)
    assert response.status_code == 500
    assert (fields["PayloadType"], fields["ErrorCode"]) == ("CoreEnvelopeError", "ServerError")
    assert await results(ch) == {}
    await ch.post("/_admin/mode", json={"mode": "normal"})
    response, fields = await post_core(ch, request)  # the client's retry, same PayloadID
    assert response.status_code == 200
    assert fields["PayloadType"] == "X12_Response_ConfirmReceiptReceived"
    assert len(await results(ch)) == 10


async def test_reset_forgets_batches_and_adjudications(ch: httpx.AsyncClient) -> None:
    payload_id = await submit(ch, fixture(ACCEPTED))
    await ch.post("/_admin/reset")
    assert await results(ch) == {}
    assert await retrieve(ch, RETRIEVE_999, payload_id) == ("X12_NoBatchAckFile", "")
    await submit(ch, fixture(ACCEPTED))  # the world is back as it was: the same figures
    assert (await results(ch))["JLEE1"]["paid"] == 11000
