"""Editing a confirmed session's coding (PATCH /therapy-sessions/{id}): the 48-hour window and
the unsent claim, the completion rules again (a refusal changes nothing), the claim rewritten
in place, the ledger where a fresh completion would have put it, idempotency, who may edit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.eligibility import Benefits, Cents, TierBenefits
from schemas.ledger import AccountRef
from services.core.clock import Clock
from services.core.settings import Settings
from services.ledger.service import get_account_balance, get_claim_receivable, get_trial_balance
from tests.clients.helpers import audit_rows
from tests.factories import make_provider
from tests.therapy_sessions.completion import (
    Visit,
    arrange,
    authorize,
    benefit_check,
    complete,
)

pytestmark = pytest.mark.usefixtures("clock")

COPAY = Benefits(
    status="active",
    trace="T1",
    in_network=TierBenefits(covered=True, copay=Cents(cents=3000, source="MH")),
)
TO_90834 = {
    "lines": [{"cpt_code": "90834", "modifiers": [], "diagnosis_pointers": [1]}],
    "duration_minutes": 45,
}


async def _edit(
    client: httpx.AsyncClient, token: Any, visit: Visit, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await client.patch(
        f"/therapy-sessions/{visit.session.id}",
        json=body,
        headers=token(visit.provider) | headers,
    )


async def _state(db: asyncpg.Connection, session_id: uuid.UUID) -> dict[str, Any]:
    """Everything an edit may change: the session, its lines, its claim, the ledger, visits."""
    session = await db.fetchrow(
        "SELECT diagnosis_codes, place_of_service, started_at, actual_minutes, edit_count,"
        " edited_at, prior_authorization_id, updated_at FROM therapy_sessions WHERE id = $1",
        session_id,
    )
    lines = await db.fetch(
        "SELECT line_number, cpt_code, modifiers, diagnosis_pointers FROM therapy_session_lines"
        " WHERE therapy_session_id = $1 ORDER BY line_number",
        session_id,
    )
    claim = await db.fetchrow(
        "SELECT status, service_date, place_of_service, diagnosis_codes, total_charge_cents,"
        " allowed_cents, updated_at FROM claims WHERE therapy_session_id = $1",
        session_id,
    )
    claim_lines = await db.fetch(
        "SELECT l.* FROM claim_lines l JOIN claims c ON c.id = l.claim_id"
        " WHERE c.therapy_session_id = $1 ORDER BY line_number",
        session_id,
    )
    entries = await db.fetch(
        "SELECT kind, idempotency_key FROM journal_entries WHERE source_id = $1 ORDER BY id",
        session_id,
    )
    visits = await db.fetch("SELECT id, visits_used FROM prior_authorizations ORDER BY id")
    return {
        "session": dict(session or {}),
        "lines": [dict(x) for x in lines],
        "claim": dict(claim) if claim else None,
        "claim_lines": [dict(x) for x in claim_lines],
        "entries": [tuple(x) for x in entries],
        "visits": [tuple(x) for x in visits],
    }


async def _balances(db: asyncpg.Connection, visit: Visit) -> tuple[int, int, int]:
    """The client's receivable, the provider's payable and the payer's receivable."""
    refs = [
        AccountRef(kind="client_receivable", owner_id=visit.client.client_id),
        AccountRef(kind="provider_payable", owner_id=visit.provider.provider_id),
        AccountRef(kind="payer_receivable", owner_id=visit.payer.id),
    ]
    a, b, c = [(await get_account_balance(db, ref)).balance_cents for ref in refs]
    return a, b, c


async def _balanced(db: asyncpg.Connection) -> int:
    # The balance trigger is deferred to COMMIT: run it now, inside the test's transaction.
    await db.execute("SET CONSTRAINTS ALL IMMEDIATE")
    await db.execute("SET CONSTRAINTS ALL DEFERRED")
    return (await get_trial_balance(db)).imbalance_cents


async def test_an_edit_within_the_window_lands_where_a_fresh_completion_would(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    edited, fresh = await arrange(db, settings), await arrange(db, settings)
    for visit in (edited, fresh):
        await benefit_check(db, visit, COPAY)
    first = await complete(client, token, edited)
    claim_id = uuid.UUID(first["claim_id"])
    before = await db.fetchrow(
        "SELECT claim_number, (SELECT clm01 FROM claim_submissions WHERE claim_id = c.id) AS clm01"
        " FROM claims c WHERE id = $1",
        claim_id,
    )
    assert before is not None
    response = await _edit(client, token, edited, TO_90834 | {"diagnosis_codes": ["F32.1"]})
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["claim_id"] == str(claim_id)
    assert (out["session"]["edit_count"], out["session"]["actual_minutes"]) == (1, 45)
    assert out["session"]["edited_by"] == str(edited.provider.user_id)
    assert out["session"]["diagnosis_codes"] == ["F321"]
    assert [x["cpt_code"] for x in out["lines"]] == ["90834"]
    # The claim rewritten in place: same number and version, never sent.
    claim = await db.fetchrow("SELECT * FROM claims WHERE id = $1", claim_id)
    assert claim is not None
    assert (claim["status"], claim["claim_number"]) == ("ready", before["claim_number"])
    assert (claim["total_charge_cents"], claim["allowed_cents"]) == (28000, 11000)
    assert claim["diagnosis_codes"] == ["F321"]
    versions = await db.fetch("SELECT clm01 FROM claim_submissions WHERE claim_id = $1", claim_id)
    assert [v["clm01"] for v in versions] == [before["clm01"]]
    [line] = await db.fetch("SELECT * FROM claim_lines WHERE claim_id = $1", claim_id)
    assert (line["cpt_code"], line["charge_cents"], line["allowed_cents"]) == (
        "90834",
        28000,
        11000,
    )
    assert line["provider_rate_cents"] == 8000  # 90834's rate, what the edit books below
    assert line["line_control_number"] == before["claim_number"] + "L1"
    # The ledger: balanced, and each account where completing as 90834 puts it.
    assert await _balanced(db) == 0
    assert await get_claim_receivable(db, claim_id) == 11000 - 3000
    await complete(client, token, fresh, **TO_90834)
    assert await _balances(db, edited) == await _balances(db, fresh) == (3000, 8000, 8000)
    assert await _balanced(db) == 0
    kinds = await db.fetch(
        "SELECT kind, idempotency_key FROM journal_entries WHERE source_id = $1 ORDER BY id",
        edited.session.id,
    )
    assert [tuple(k) for k in kinds] == [
        ("completion", f"completion-{edited.session.id}"),
        ("completion_edited", f"completion-edit-{edited.session.id}-1"),
    ]
    audits = await audit_rows(db, "therapy_session", edited.session.id)
    assert [a["action"] for a in audits].count("update") == 2  # the completion, the edit
    assert ("update", edited.provider.user_id) in [
        (a["action"], a["actor_user_id"]) for a in await audit_rows(db, "claim", claim_id)
    ]


async def test_a_self_pay_edit_posts_only_the_difference(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, insured=False)
    assert (await complete(client, token, visit))["claim_id"] is None
    response = await _edit(client, token, visit, TO_90834)
    assert response.status_code == 200, response.text
    assert response.json()["claim_id"] is None
    fee = (14000 * settings.platform_fee_bps + 5000) // 10000
    client_owes, provider_owed, _ = await _balances(db, visit)
    assert (client_owes, provider_owed) == (14000, 14000 - fee)
    assert await _balanced(db) == 0
    count = "SELECT count(*) FROM claims WHERE therapy_session_id = $1"
    assert await db.fetchval(count, visit.session.id) == 0


async def test_the_window_is_open_for_47h59_and_closed_at_48h(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    clock: Clock,
) -> None:
    assert settings.session_edit_window_hours == 48
    visit = await arrange(db, settings)
    await complete(client, token, visit)
    clock.advance(timedelta(hours=47, minutes=59))
    assert (await _edit(client, token, visit, {"duration_minutes": 58})).status_code == 200
    clock.advance(timedelta(minutes=1))
    before = await _state(db, visit.session.id)
    response = await _edit(client, token, visit, {"duration_minutes": 60})
    assert response.status_code == 409, response.text
    problem = response.json()
    assert (problem["code"], problem["errors"][0]["field"]) == (
        "edit_window_closed",
        "confirmed_at",
    )
    assert await _state(db, visit.session.id) == before
    assert before["session"]["actual_minutes"] == 58


@pytest.mark.parametrize("status", ["submitted", "acknowledged", "accepted", "rejected"])
async def test_a_claim_no_longer_ready_cannot_be_edited(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, status: str
) -> None:
    visit = await arrange(db, settings)
    await complete(client, token, visit)
    await db.execute(
        "UPDATE claims SET status = $2 WHERE therapy_session_id = $1", visit.session.id, status
    )
    before = await _state(db, visit.session.id)
    response = await _edit(client, token, visit, TO_90834)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "claim_submitted"
    assert await _state(db, visit.session.id) == before


async def test_only_a_confirmed_session_is_edited(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    response = await _edit(client, token, visit, TO_90834)
    assert response.status_code == 409
    assert response.json()["code"] == "therapy_session_status"
    empty = await _edit(client, token, visit, {})
    assert (empty.status_code, empty.json()["code"]) == (422, "nothing_to_edit")


# (rule, the edit, the field named)
REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("cpt_time_range", {"duration_minutes": 45}, "lines[0].cpt_code"),
    ("one_primary_code", {"lines": [{"cpt_code": "90834", "diagnosis_pointers": [1]},
                                    {"cpt_code": "90837", "diagnosis_pointers": [1]}]},
     "lines[1].cpt_code"),
    ("add_on_without_primary", {"lines": [{"cpt_code": "90785", "diagnosis_pointers": [1]}]},
     "lines[0].cpt_code"),
    ("icd10_format", {"diagnosis_codes": ["41.1"]}, "diagnosis_codes[0]"),
    ("diagnosis_count", {"diagnosis_codes": []}, "diagnosis_codes"),
    ("diagnosis_pointer", {"lines": [{"cpt_code": "90837", "diagnosis_pointers": [2]}]},
     "lines[0].diagnosis_pointers"),
    ("telehealth_modifier", {"place_of_service": "10"}, "lines[0].modifiers"),
    ("not_started", {"started_at": "2026-11-26T16:00:00+00:00"}, "started_at"),
    ("policy_inactive", {"started_at": "2025-12-31T10:00:00-05:00"}, "policy_id"),
    ("prior_authorization_required", {"lines": [{"cpt_code": "90834", "diagnosis_pointers": [1]}],
                                      "duration_minutes": 45}, "lines[0].cpt_code"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "change", "field"), REFUSALS)
async def test_each_completion_rule_refuses_an_edit_and_changes_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    rule: str,
    change: dict[str, Any],
    field: str,
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90834"])
    await benefit_check(db, visit, COPAY)
    await complete(client, token, visit)
    before = await _state(db, visit.session.id)
    response = await _edit(client, token, visit, change)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["errors"][0]["field"]) == (rule, field)
    assert await _state(db, visit.session.id) == before
    assert before["session"]["edit_count"] == 0


async def test_a_prior_authorization_visit_moves_with_the_codes(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, prior_auth_cpt_codes=["90837"])
    authorization = await authorize(db, visit, "PA-EDIT-1", visits=2)
    used = "SELECT visits_used FROM prior_authorizations WHERE id = $1"
    first = await complete(client, token, visit)
    assert first["session"]["prior_authorization_id"] == str(authorization)
    assert await db.fetchval(used, authorization) == 1
    # 90834 needs none: the visit goes back.
    away = await _edit(client, token, visit, TO_90834)
    assert away.status_code == 200, away.text
    assert away.json()["session"]["prior_authorization_id"] is None
    assert await db.fetchval(used, authorization) == 0
    claim = "SELECT prior_authorization_id FROM claims WHERE therapy_session_id = $1"
    assert await db.fetchval(claim, visit.session.id) is None
    # Back to 90837: a visit is used again; an edit that keeps it uses no second one.
    body = {"lines": [{"cpt_code": "90837", "diagnosis_pointers": [1]}], "duration_minutes": 55}
    assert (await _edit(client, token, visit, body)).status_code == 200
    assert await db.fetchval(used, authorization) == 1
    assert (await _edit(client, token, visit, {"diagnosis_codes": ["F41.0"]})).status_code == 200
    assert await db.fetchval(used, authorization) == 1
    assert await db.fetchval(claim, visit.session.id) == authorization


async def test_an_edit_leaving_the_start_alone_keeps_the_date_of_service(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    # 21:30 in New York on the 25th is the 26th in UTC: the date of service is the 25th.
    out = await complete(client, token, visit, started_at="2026-11-25T21:30:00-05:00")
    service_date = "SELECT service_date::text FROM claims WHERE id = $1"
    assert await db.fetchval(service_date, uuid.UUID(out["claim_id"])) == "2026-11-25"
    assert (await _edit(client, token, visit, {"duration_minutes": 60})).status_code == 200
    assert await db.fetchval(service_date, uuid.UUID(out["claim_id"])) == "2026-11-25"


async def test_a_retry_with_the_same_idempotency_key_edits_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    await benefit_check(db, visit, COPAY)
    await complete(client, token, visit)
    first = await _edit(client, token, visit, TO_90834, **{"Idempotency-Key": "edit-1"})
    second = await _edit(client, token, visit, TO_90834, **{"Idempotency-Key": "edit-1"})
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json()
    state = await _state(db, visit.session.id)
    assert state["session"]["edit_count"] == 1
    assert [kind for kind, _ in state["entries"]] == ["completion", "completion_edited"]
    other = await _edit(
        client, token, visit, {"duration_minutes": 50}, **{"Idempotency-Key": "edit-1"}
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    # The same edit again without a key is a second edit with nothing to post.
    assert (await _edit(client, token, visit, TO_90834)).status_code == 200
    state = await _state(db, visit.session.id)
    assert state["session"]["edit_count"] == 2
    assert len(state["entries"]) == 2
    assert await _balances(db, visit) == (3000, 8000, 8000)


async def test_who_may_edit(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    await complete(client, token, visit)
    other = await make_provider(db, settings)
    url = f"/therapy-sessions/{visit.session.id}"
    before = await _state(db, visit.session.id)
    assert (await client.patch(url, json=TO_90834)).status_code == 401
    assert (await client.patch(url, json=TO_90834, headers=token(visit.client))).status_code == 403
    assert (await client.patch(url, json=TO_90834, headers=token(other))).status_code == 404
    unknown = f"/therapy-sessions/{uuid.uuid4()}"
    assert (await client.patch(unknown, json=TO_90834, headers=token(visit.ops))).status_code == 404
    assert await _state(db, visit.session.id) == before
    response = await client.patch(url, json=TO_90834, headers=token(visit.ops))
    assert response.status_code == 200, response.text
    assert response.json()["session"]["edited_by"] == str(visit.ops.user_id)
