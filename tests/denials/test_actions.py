"""The denial queue's actions: resubmit (7), void (8), write off, appeal; each closes the denial
once (a second action is 409 naming the first), in one transaction, audited, idempotent."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.ledger.service import get_trial_balance
from tests.claims.corrections import answered, completed
from tests.denials.world import Denial, billed_of, deny, deny_billed
from tests.remittance.billed import balance, claim_status

pytestmark = pytest.mark.usefixtures("clock")


async def _open_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await client.get("/denials", headers=headers)
    assert response.status_code == 200, response.text
    return {i["denial"]["id"] for g in response.json()["groups"] for i in g["items"]}


async def _entries(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM journal_entries")
    return count


@pytest.fixture
async def denial(db, ops, provider, payer_id) -> Denial:
    return await deny(db, ops, provider, payer_id)


async def test_resubmit_sends_a_replacement_and_closes_the_denial(
    client, db, as_ops, ops, token, settings
):
    # A session completed through the API: the replacement's coding is checked against it.
    _, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    denial = await deny_billed(db, ops, await billed_of(db, claim_id))
    assert str(denial.id) in await _open_ids(client, as_ops)
    response = await client.post(
        f"/denials/{denial.id}/resubmit",
        json={"reason": "diagnosis corrected", "diagnosis_codes": ["F32.1"]},
        headers=as_ops,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolution"]["action"] == "resubmitted"
    assert body["resolution"]["via"] == "denial_queue"
    version = body["correction"]["version"]
    assert (version["frequency"], version["version"]) == ("7", 2)
    assert body["resolution"]["submission_id"] == version["id"]
    assert body["correction"]["claim"]["diagnosis_codes"] == ["F321"]
    assert await claim_status(db, claim_id) == "ready"
    assert str(denial.id) not in await _open_ids(client, as_ops)
    detail = (await client.get(f"/denials/{denial.id}", headers=as_ops)).json()
    assert detail["state"] == "resolved"
    assert [e["kind"] for e in detail["history"]] == ["denied", "resolved"]
    assert "diagnosis corrected" in detail["history"][1]["detail"]
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'denial_resolution' AND action = 'create'"
    )
    assert audited == 1
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_void_sends_a_void_and_closes_the_denial(client, db, as_ops, denial):
    response = await client.post(
        f"/denials/{denial.id}/void", json={"reason": "billed in error"}, headers=as_ops
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolution"]["action"] == "voided"
    assert body["correction"]["version"]["frequency"] == "8"
    assert str(denial.id) not in await _open_ids(client, as_ops)
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_write_off_keeps_the_loss_booked_at_posting(client, db, as_ops, denial):
    losses, entries = await balance(db, "claim_losses"), await _entries(db)
    response = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "not worth appealing"}, headers=as_ops
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["action"], body["note"], body["submission_id"]) == (
        "written_off", "not worth appealing", None,
    )  # fmt: skip
    assert await balance(db, "claim_losses") == losses
    assert await _entries(db) == entries
    assert await claim_status(db, denial.billed.claim_id) == "denied"
    assert str(denial.id) not in await _open_ids(client, as_ops)


async def test_appeal_opens_with_the_payers_window_and_closes_the_denial(
    client, db, as_ops, denial
):
    response = await client.post(
        f"/denials/{denial.id}/appeals", json={"note": "medical necessity letter"},
        headers=as_ops,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    appeal = body["appeal"]["appeal"]
    assert (appeal["status"], appeal["deadline"], appeal["deadline_source"]) == (
        "open", "2027-06-02", "payer_window",
    )  # fmt: skip
    assert body["resolution"]["appeal_id"] == appeal["id"]
    (note,) = body["appeal"]["notes"]
    assert (note["kind"], note["to_status"], note["body"]) == (
        "status", "open", "medical necessity letter",
    )  # fmt: skip
    assert str(denial.id) not in await _open_ids(client, as_ops)


async def test_ops_may_give_the_appeal_deadline(client, as_ops, denial):
    response = await client.post(
        f"/denials/{denial.id}/appeals",
        json={"note": "the payer granted 60 days", "deadline": "2027-01-25"},
        headers=as_ops,
    )
    assert response.status_code == 201, response.text
    appeal = response.json()["appeal"]["appeal"]
    assert (appeal["deadline"], appeal["deadline_source"]) == ("2027-01-25", "ops")


@pytest.mark.parametrize("deadline", ["2026-11-25", "2040-01-01"])
async def test_an_appeal_deadline_past_or_too_far_is_refused(client, db, as_ops, denial, deadline):
    response = await client.post(
        f"/denials/{denial.id}/appeals", json={"note": "n", "deadline": deadline}, headers=as_ops
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "deadline"
    assert await db.fetchval("SELECT count(*) FROM claim_appeals") == 0


async def test_a_closed_payer_window_needs_an_explicit_deadline(client, db, as_ops, denial, clock):
    clock.freeze(clock.now().replace(year=2027, month=7))
    response = await client.post(
        f"/denials/{denial.id}/appeals", json={"note": "late"}, headers=as_ops
    )
    assert response.status_code == 422
    assert "2027-06-02" in response.json()["detail"]


ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("resubmit", {"reason": "corrected"}),
    ("void", {"reason": "withdrawn"}),
    ("write-off", {"note": "written off"}),
    ("appeals", {"note": "appealed"}),
]


@pytest.mark.parametrize(("first", "first_body"), ACTIONS)
async def test_a_second_action_is_409_naming_the_resolution(
    client, db, as_ops, denial, first, first_body
):
    done = await client.post(f"/denials/{denial.id}/{first}", json=first_body, headers=as_ops)
    assert done.status_code in (200, 201), done.text
    action = {"resubmit": "resubmitted", "void": "voided", "write-off": "written off",
              "appeals": "appealed"}[first]  # fmt: skip
    for second, body in ACTIONS:
        response = await client.post(f"/denials/{denial.id}/{second}", json=body, headers=as_ops)
        assert response.status_code == 409, (second, response.text)
        problem = response.json()
        assert problem["code"] == "denial_resolved"
        assert action in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM denial_resolutions") == 1


async def test_a_claim_replaced_through_claims_counts_as_resubmitted(client, db, as_ops, denial):
    replaced = await client.post(
        f"/claims/{denial.billed.claim_id}/replace", json={"reason": "fixed"}, headers=as_ops
    )
    assert replaced.status_code == 200, replaced.text
    assert str(denial.id) not in await _open_ids(client, as_ops)
    detail = (await client.get(f"/denials/{denial.id}", headers=as_ops)).json()
    assert detail["state"] == "resolved"
    resolution = detail["resolution"]
    assert (resolution["action"], resolution["via"], resolution["id"]) == (
        "resubmitted", "claims", None,
    )  # fmt: skip
    assert resolution["submission_id"] == replaced.json()["version"]["id"]
    response = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "too late"}, headers=as_ops
    )
    assert response.status_code == 409
    assert "resubmitted" in response.json()["detail"]


async def test_an_action_repeated_with_its_key_answers_the_first_response(
    client, db, as_ops, denial
):
    headers = {**as_ops, "Idempotency-Key": f"wo-{uuid.uuid4()}"}
    first = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "once"}, headers=headers
    )
    again = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "once"}, headers=headers
    )
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert await db.fetchval("SELECT count(*) FROM denial_resolutions") == 1
    other = await client.post(
        f"/denials/{denial.id}/write-off", json={"note": "twice"}, headers=headers
    )
    assert other.status_code == 422  # the key with another body


async def test_a_refused_correction_resolves_nothing(client, db, as_ops, ops, token, settings):
    _, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    denial = await deny_billed(db, ops, await billed_of(db, claim_id))
    # An add-on code alone: the claims domain refuses the coding, and nothing is kept.
    lines = [{"cpt_code": "90785", "modifiers": [], "diagnosis_pointers": [1]}]
    response = await client.post(
        f"/denials/{denial.id}/resubmit", json={"reason": "again", "lines": lines},
        headers=as_ops,
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert await db.fetchval("SELECT count(*) FROM denial_resolutions") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM claim_submissions WHERE claim_id = $1", claim_id)
        == 1
    )
    assert str(denial.id) in await _open_ids(client, as_ops)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("write-off", {}, "note"),
        ("write-off", {"note": ""}, "note"),
        ("write-off", {"note": "a\x00b"}, "note"),
        ("write-off", {"note": "x" * 2001}, "note"),
        ("write-off", {"note": "n", "extra": 1}, "extra"),
        ("resubmit", {"reason": "r", "place_of_service": "99"}, "place_of_service"),
        ("resubmit", {}, "reason"),
        ("void", {"reason": 5}, "reason"),
        ("appeals", {"note": "n", "deadline": "2027-02-30"}, "deadline"),
    ],
)
async def test_bad_input_is_4xx_naming_the_field(client, db, as_ops, denial, action, body, field):
    response = await client.post(f"/denials/{denial.id}/{action}", json=body, headers=as_ops)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text
    assert await db.fetchval("SELECT count(*) FROM denial_resolutions") == 0


async def test_an_unknown_denial_is_404_for_every_action(client, as_ops):
    for action, body in ACTIONS:
        response = await client.post(f"/denials/{uuid.uuid4()}/{action}", json=body,
                                     headers=as_ops)  # fmt: skip
        assert response.status_code == 404, (action, response.text)
