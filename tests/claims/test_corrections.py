"""Claim corrections through the API: resend (1), replacement (7), void (8); their refusals
(each changing nothing), authorization, idempotent retries, the ledger and the prior
authorization's visit."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.claims import queries
from services.core.settings import Settings
from services.ledger.service import get_claim_receivable, get_trial_balance
from tests.authz import ROLES, expected_status, headers_for
from tests.claims.corrections import (
    PAYER_NUMBER,
    answered,
    coinsurance,
    completed,
    net_by_kind,
    sent,
    snapshot,
    versions,
)
from tests.claims.world import make_claim_world
from tests.remittance.billed import line_rates
from tests.therapy_sessions.completion import arrange, authorize

pytestmark = pytest.mark.usefixtures("clock")

WITH_ADD_ON = [
    {"cpt_code": "90837", "modifiers": [], "diagnosis_pointers": [1]},
    {"cpt_code": "90785", "modifiers": [], "diagnosis_pointers": [2]},
]


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], claim_id: uuid.UUID, action: str,
    body: dict[str, Any], key: str | None = None,
) -> httpx.Response:  # fmt: skip
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(f"/claims/{claim_id}/{action}", json=body, headers=headers)


async def test_a_rejected_claim_is_corrected_and_resent_as_frequency_1(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "rejected", number=None)
    await db.execute(
        "UPDATE claims SET needs_ops = true, ops_kind = 'other', ops_reason = 'rejected',"
        " ops_since = now() WHERE id = $1",
        claim_id,
    )
    body = {"reason": "add the interactive complexity add-on and the second diagnosis",
            "diagnosis_codes": ["F41.1", "F32.1"], "lines": WITH_ADD_ON}  # fmt: skip
    response = await _post(client, token(visit.provider), claim_id, "resend", body)
    assert response.status_code == 200, response.text
    out = response.json()
    number = out["claim"]["claim_number"]
    assert out["version"]["frequency"] == "1"
    assert out["version"]["clm01"] == out["claim"]["clm01"] == number + "02"
    assert await versions(db, claim_id) == [(1, "1", number + "01"), (2, "1", number + "02")]
    row = await db.fetchrow("SELECT * FROM claims WHERE id = $1", claim_id)
    assert row is not None
    assert (row["status"], row["needs_ops"], row["ops_reason"]) == ("ready", False, None)
    cleared = await db.fetchval(
        "SELECT count(*) FROM claim_status_history WHERE claim_id = $1 AND ops_event = 'cleared'",
        claim_id,
    )
    assert cleared == 1  # the correction lowered the flag, with its history row
    assert row["diagnosis_codes"] == ["F411", "F321"]
    assert (row["total_charge_cents"], row["allowed_cents"]) == (38000 + 6000, 15000 + 1500)
    lines = await db.fetch(
        "SELECT cpt_code, diagnosis_pointers, allowed_cents, line_control_number"
        " FROM claim_lines WHERE claim_id = $1 ORDER BY line_number",
        claim_id,
    )
    assert [tuple(r) for r in lines] == [
        ("90837", [1], 15000, number + "02L1"),
        ("90785", [2], 1500, number + "02L2"),
    ]
    last = await db.fetchrow(
        "SELECT from_status, to_status, reason, actor_user_id FROM claim_status_history"
        " WHERE claim_id = $1 ORDER BY id DESC LIMIT 1",
        claim_id,
    )
    assert last is not None
    assert (last["from_status"], last["to_status"]) == ("rejected", "ready")
    assert last["reason"] == "corrected and resent (frequency 1): " + body["reason"]
    assert last["actor_user_id"] == visit.provider.user
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE actor_user_id = $1 AND action = 'update'"
        " AND entity = 'claim' AND entity_id = $2",
        visit.provider.user,
        claim_id,
    )
    assert audited == 1
    # The add-on's allowed amount and rate: the accounts where a completion would put them.
    assert await net_by_kind(db, visit.session.id, claim_id) == {
        "client_receivable": 3300, "payer_receivable": 13200, "provider_payable": -12200,
        "platform_revenue": -4300,
    }  # fmt: skip
    assert await get_claim_receivable(db, claim_id) == 13200
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_resend_without_changes_is_a_new_version_of_the_same_claim(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "rejected", number=None)
    before = await snapshot(db, claim_id)
    body = {"reason": "ops corrected the member id on the policy"}
    response = await _post(client, token(visit.ops), claim_id, "resend", body)
    assert response.status_code == 200, response.text
    after = await snapshot(db, claim_id)
    assert after["lines"] == before["lines"]
    assert after["claim"]["diagnosis_codes"] == before["claim"]["diagnosis_codes"]
    assert after["entries"] == before["entries"]  # nothing re-priced, nothing booked
    assert [v[:2] for v in after["versions"]] == [(1, "1"), (2, "1")]
    assert after["claim"]["status"] == "ready"


@pytest.mark.parametrize(
    ("setup", "action", "body", "status", "code"),
    [
        ("ready", "resend", {}, 409, "claim_status"),
        ("accepted", "resend", {}, 409, "claim_status"),
        ("rejected_held", "resend", {}, 409, "payer_holds_claim"),
        ("rejected", "resend", {"lines": [{"cpt_code": "90834", "diagnosis_pointers": [1]}]},
         422, "cpt_time_range"),
        ("rejected", "resend", {"diagnosis_codes": ["F41.1", "F41.1"]}, 422,
         "diagnosis_repeated"),
        ("rejected", "resend", {"lines": [{"cpt_code": "90837", "diagnosis_pointers": [2]}]},
         422, "diagnosis_pointer"),
        ("rejected", "resend", {"place_of_service": "02"}, 422, "telehealth_modifier"),
        ("accepted_no_number", "replace", {}, 422, "no_payer_claim_number"),
        ("accepted_no_number", "void", {}, 422, "no_payer_claim_number"),
        ("rejected", "replace", {}, 422, "no_payer_claim_number"),
        ("ready", "replace", {}, 409, "claim_status"),
        ("ready", "void", {}, 409, "claim_status"),
        ("accepted", "replace", {"lines": [{"cpt_code": "90785", "diagnosis_pointers": [1]}]},
         422, "add_on_without_primary"),
    ],
)  # fmt: skip
async def test_a_refused_correction_names_its_rule_and_changes_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    setup: str,
    action: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    if setup != "ready":
        to = "accepted" if setup.startswith("accepted") else "rejected"
        held = setup in ("accepted", "rejected_held")
        await answered(db, claim_id, to, PAYER_NUMBER if held else None)
    before = await snapshot(db, claim_id)
    response = await _post(
        client, token(visit.ops), claim_id, action, {"reason": "correction", **body}
    )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await snapshot(db, claim_id) == before


async def test_a_replacement_books_what_a_fresh_completion_of_the_corrected_claim_would(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    body = {"reason": "the session was billed without its add-on",
            "diagnosis_codes": ["F41.1", "F32.1"], "lines": WITH_ADD_ON}  # fmt: skip
    response = await _post(client, token(visit.provider), claim_id, "replace", body)
    assert response.status_code == 200, response.text
    assert response.json()["version"]["frequency"] == "7"
    assert (await snapshot(db, claim_id))["claim"]["status"] == "ready"
    # The same session completed afresh with the corrected coding, elsewhere.
    fresh = await arrange(db, settings)
    await coinsurance(db, fresh)
    _, fresh_claim = await completed(
        db, client, token, settings, fresh,
        diagnosis_codes=body["diagnosis_codes"], lines=WITH_ADD_ON,
    )  # fmt: skip
    replaced = await net_by_kind(db, visit.session.id, claim_id)
    assert replaced == await net_by_kind(db, fresh.session.id, fresh_claim)
    # The replacement's lines carry their provider rates as a fresh completion's do, adding
    # up to what the claim's entries credit the provider.
    assert await line_rates(db, claim_id) == await line_rates(db, fresh_claim) == [
        ("90837", 11000), ("90785", 1200),
    ]  # fmt: skip
    assert replaced["provider_payable"] == -12200
    assert await get_claim_receivable(db, claim_id) == await get_claim_receivable(db, fresh_claim)
    assert (await get_trial_balance(db)).imbalance_cents == 0
    # A second replacement back to the original coding books the way back.
    await answered(db, claim_id, "accepted", "PCN2026000002")
    back = {"reason": "the add-on was not documented", "diagnosis_codes": ["F41.1"],
            "lines": WITH_ADD_ON[:1]}  # fmt: skip
    response = await _post(client, token(visit.ops), claim_id, "replace", back)
    assert response.status_code == 200, response.text
    assert await net_by_kind(db, visit.session.id, claim_id) == {
        "client_receivable": 3000, "payer_receivable": 12000, "provider_payable": -11000,
        "platform_revenue": -4000,
    }  # fmt: skip
    assert [v[:2] for v in await versions(db, claim_id)] == [(1, "1"), (2, "7"), (3, "7")]
    assert await line_rates(db, claim_id) == [("90837", 11000)]


async def test_only_ops_replace_a_claim_whose_replacement_the_payer_rejected(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    body = {"reason": "first try"}
    assert (
        await _post(client, token(visit.provider), claim_id, "replace", body)
    ).status_code == 200
    await answered(db, claim_id, "rejected", number=None)
    refused = await _post(client, token(visit.provider), claim_id, "replace", body)
    assert (refused.status_code, refused.json()["code"]) == (409, "claim_status")
    resend = await _post(client, token(visit.ops), claim_id, "resend", body)
    assert (resend.status_code, resend.json()["code"]) == (409, "payer_holds_claim")
    again = await _post(client, token(visit.ops), claim_id, "replace", body)
    assert again.status_code == 200, again.text
    assert [v[:2] for v in await versions(db, claim_id)] == [(1, "1"), (2, "7"), (3, "7")]


async def test_no_correction_while_another_waits_to_be_sent(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    """The original's 835 arrives while its replacement waits for the submission job: ops may
    neither replace nor void the claim again until that version has gone (409, nothing made)."""
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    first = await _post(client, token(visit.ops), claim_id, "replace", {"reason": "first"})
    assert first.status_code == 200, first.text
    await db.execute("UPDATE claims SET status = 'paid' WHERE id = $1", claim_id)  # its 835
    before = await snapshot(db, claim_id)
    for action in ("replace", "void"):
        refused = await _post(client, token(visit.ops), claim_id, action, {"reason": "again"})
        assert (refused.status_code, refused.json()["code"]) == (409, "claim_status"), action
        assert "version 2 of this claim waits to be sent" in refused.json()["detail"]
    assert await snapshot(db, claim_id) == before
    await sent(db, claim_id)
    await db.execute("UPDATE claims SET status = 'paid' WHERE id = $1", claim_id)
    again = await _post(client, token(visit.ops), claim_id, "replace", {"reason": "again"})
    assert again.status_code == 200, again.text
    assert [v[:2] for v in await versions(db, claim_id)] == [(1, "1"), (2, "7"), (3, "7")]


async def test_a_void_reverses_the_claim_and_gives_the_visit_back_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90837"])
    await coinsurance(db, visit)
    authorization = await authorize(db, visit, "PA77", 3)
    _, claim_id = await completed(db, client, token, settings, visit)
    used = "SELECT visits_used FROM prior_authorizations WHERE id = $1"
    assert await db.fetchval(used, authorization) == 1
    await answered(db, claim_id, "accepted")
    body = {"reason": "the session was billed to the wrong plan"}
    first = await _post(client, token(visit.provider), claim_id, "void", body, key="void-1")
    assert first.status_code == 200, first.text
    assert first.json()["version"]["frequency"] == "8"
    # The same request again (a client's retry) gets the first answer and changes nothing.
    retry = await _post(client, token(visit.provider), claim_id, "void", body, key="void-1")
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert await db.fetchval(used, authorization) == 0
    assert await net_by_kind(db, visit.session.id, claim_id) == {}
    assert await get_claim_receivable(db, claim_id) == 0
    voids = "SELECT count(*) FROM journal_entries WHERE idempotency_key = $1"
    assert await db.fetchval(voids, f"void-{claim_id}") == 1
    # A void is final: no replacement, no resend, even when the payer rejected it; ops void
    # again, and the visit and the reversal are not given twice.
    await answered(db, claim_id, "rejected", number=None)
    for action in ("replace", "resend"):
        refused = await _post(client, token(visit.ops), claim_id, action, body)
        assert refused.status_code == 409, refused.text
    again = await _post(client, token(visit.ops), claim_id, "void", body)
    assert again.status_code == 200, again.text
    assert await db.fetchval(used, authorization) == 0
    assert await db.fetchval(voids, f"void-{claim_id}") == 1
    assert await net_by_kind(db, visit.session.id, claim_id) == {}
    assert [v[:2] for v in await versions(db, claim_id)] == [(1, "1"), (2, "8"), (3, "8")]
    assert (await get_trial_balance(db)).imbalance_cents == 0


async def test_a_replacement_retried_with_its_key_makes_one_version(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "accepted")
    body = {"reason": "add-on", "diagnosis_codes": ["F41.1", "F32.1"], "lines": WITH_ADD_ON}
    headers = token(visit.provider)
    first = await _post(client, headers, claim_id, "replace", body, key="k-1")
    second = await _post(client, headers, claim_id, "replace", body, key="k-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert [v[:2] for v in await versions(db, claim_id)] == [(1, "1"), (2, "7")]
    reused = await _post(client, headers, claim_id, "replace", {"reason": "other"}, key="k-1")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


@pytest.mark.parametrize("action", ["resend", "replace", "void"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("obj", ["own", "foreign", "unknown"])
async def test_correction_routes_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, action: str, role: str,
    obj: str,
) -> None:  # fmt: skip
    """Whoever reaches a (ready) claim gets its status refusal; the others never see it."""
    w = await make_claim_world(db)
    claim_id = {"own": w.claims[0], "foreign": w.claims[1]}.get(obj) or uuid.uuid4()
    response = await client.post(
        f"/claims/{claim_id}/{action}", json={"reason": "probe"},
        headers=headers_for(token, w.actor(role)),
    )  # fmt: skip
    assert response.status_code == expected_status(role, obj, ("ops", "provider"), 409)
    assert await db.fetchval("SELECT count(*) FROM claim_submissions WHERE version > 1") == 0


async def test_bad_bodies_are_refused_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit, claim_id = await completed(db, client, token, settings)
    await answered(db, claim_id, "rejected", number=None)
    headers = token(visit.ops)
    for body, field in (
        ({}, "reason"),
        ({"reason": "x\u0000"}, "reason"),
        ({"reason": "x", "lines": []}, "lines"),
        ({"reason": "x", "place_of_service": "99"}, "place_of_service"),
        ({"reason": "x", "units": 2}, "units"),
    ):
        response = await _post(client, headers, claim_id, "resend", body)
        assert 400 <= response.status_code < 500, body
        assert field in response.text, body
    assert await versions(db, claim_id) == (await versions(db, claim_id))[:1]


async def test_the_database_keeps_one_unsent_version_per_claim(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    """The last line behind "a version is sent once": a second version while one waits for
    the submission job is refused by PostgreSQL, whatever the application does."""
    _, claim_id = await completed(db, client, token, settings)
    number = await db.fetchval("SELECT claim_number FROM claims WHERE id = $1", claim_id)
    with pytest.raises(asyncpg.UniqueViolationError, match="claim_submissions_one_unsent"):
        async with db.transaction():
            await queries.insert_submission(db, claim_id, 2, "1", number + "02")
    await sent(db, claim_id)
    await queries.insert_submission(db, claim_id, 2, "1", number + "02")
