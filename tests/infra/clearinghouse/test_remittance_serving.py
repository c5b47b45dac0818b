"""Serving the 835s over CORE batch: each written once, then served identically on request.

The retrieval's Payload is a cursor: "0", or the ISA13 of the last 835 the client holds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx

from infra.clearinghouse.server import Simulator, credentials_from_env
from infra.clearinghouse.world import load_world
from tests.infra.clearinghouse.conftest import (
    batch_envelope,
    fixture,
    post_core,
    retrieve,
    submit,
)
from tests.infra.clearinghouse.x835_reader import NO_RESULTS, REQUEST_835, RESPONSE_835

FIXTURES = Path(__file__).with_name("fixtures")


async def test_nothing_to_pay_answers_no_results_file(ch: httpx.AsyncClient) -> None:
    assert await retrieve(ch, REQUEST_835, "0") == (NO_RESULTS, "")
    listed = (await ch.get("/_admin/remittances")).json()
    assert listed == {"items": [], "pending": []}


async def test_each_835_is_written_once_and_served_identically(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))
    pending = (await ch.get("/_admin/remittances")).json()["pending"]
    assert "JLEE1" in pending  # adjudicated; paid at the next payment run
    request = batch_envelope("0", REQUEST_835)
    response, first = await post_core(ch, request)
    assert (response.status_code, first["PayloadType"]) == (200, RESPONSE_835)
    # Another request from the same cursor gets the same file, not a new payment.
    kind, again = await retrieve(ch, REQUEST_835, "0")
    assert (kind, again) == (RESPONSE_835, first["Payload"])
    # New claims and a new 835 later: a repeated PayloadID still gets its first answer.
    await submit(ch, fixture("837_denied.x12"))
    _, newer = await retrieve(ch, REQUEST_835, first["Payload"].split("*")[13])
    _, repeated = await post_core(ch, request)
    assert repeated["Payload"] == first["Payload"]
    assert repeated["PayloadID"] == first["PayloadID"]
    listed = (await ch.get("/_admin/remittances")).json()
    assert listed["pending"] == []
    assert [item["text"] for item in listed["items"]][:2] == [first["Payload"], newer]
    assert listed["items"][0]["claims"][:2] == ["JLEE1", "JLEE2"]
    assert listed["items"][0]["amount"] == 70700
    # A payment run with nothing new writes nothing.
    assert (await ch.post("/_admin/payment-run", json={})).json() == {"items": []}


async def test_the_cursor_walks_the_835s_in_order(ch: httpx.AsyncClient) -> None:
    await submit(ch, fixture("837_accepted.x12"))  # three payers: three 835s
    cursor, controls = "0", []
    while True:
        kind, text = await retrieve(ch, REQUEST_835, cursor)
        if kind == NO_RESULTS:
            break
        cursor = text.split("*")[13]
        controls.append(cursor)
    items = (await ch.get("/_admin/remittances")).json()["items"]
    assert controls == [item["control"] for item in items]
    assert len(controls) == 3
    # A cursor the simulator does not know (it restarted) starts again from the first.
    assert (await retrieve(ch, REQUEST_835, "1"))[1] == items[0]["text"]


async def test_a_bad_cursor_or_mode_is_an_envelope_error(ch: httpx.AsyncClient) -> None:
    for payload in ("latest", "1234567890"):
        response, fields = await post_core(ch, batch_envelope(payload, REQUEST_835))
        assert (response.status_code, fields["ErrorCode"]) == (400, "PayloadIllegal")
    request = batch_envelope("0", REQUEST_835, ProcessingMode="RealTime")
    response, fields = await post_core(ch, request)
    assert (response.status_code, fields["ErrorCode"]) == (400, "ProcessingModeIllegal")


async def test_admin_switches_refuse_bad_input(ch: httpx.AsyncClient) -> None:
    assert (await ch.post("/_admin/payment-run", json={"day": "2027-13-01"})).status_code == 400
    assert (await ch.post("/_admin/payment-run", json={"day": 20270101})).status_code == 400
    assert (await ch.post("/_admin/hold", json={"claim_ids": "JLEE1"})).status_code == 400
    assert (await ch.post("/_admin/hold", json={"claim_ids": [1]})).status_code == 400


def test_claims_wait_for_the_payment_delay() -> None:
    sim = Simulator(world=load_world(), creds=credentials_from_env(), today=date(2026, 11, 26),
                    payment_delay_s=3600)  # fmt: skip
    payload = (FIXTURES / "837_accepted.x12").read_text()
    sim.answer_837({"SenderID": "HEARTH", "PayloadID": "p1", "Payload": payload})
    request = {"PayloadType": REQUEST_835, "PayloadID": "p2", "SenderID": "HEARTH",
               "Payload": "0"}  # fmt: skip
    status, answer = sim.retrieve_835(request)
    assert (status, answer["PayloadType"]) == (200, NO_RESULTS)  # adjudicated under an hour ago
    assert len(sim.payment_run()) == 3  # the payers' run, forced
    status, answer = sim.retrieve_835({**request, "PayloadID": "p3"})
    assert answer["Payload"] == sim.remitter.eras[0].text
