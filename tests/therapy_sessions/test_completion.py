"""Completing a session: each validation rule refuses with its name and changes nothing;
who may complete; idempotency; recording an unbooked session."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from schemas.therapy_sessions import CompleteSessionIn
from services.core import clock as hearth_clock
from services.core.auth import Actor
from services.core.errors import Unauthorized
from services.core.settings import Settings
from services.therapy_sessions.completion import complete_session
from tests.clients.helpers import audit_rows
from tests.factories import make_provider
from tests.therapy_sessions.completion import arrange, completion_body, session_row

pytestmark = pytest.mark.usefixtures("clock")


def _lines(*codes: str, modifiers: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        {"cpt_code": code, "modifiers": modifiers or [], "diagnosis_pointers": [1]}
        for code in codes
    ]


def _ago(days: int) -> str:
    return (hearth_clock.now() - timedelta(days=days)).isoformat()


# Days before the (frozen) clock's now, resolved inside the test.
AGO = "started_days_ago"
# (rule, what the body changes, the payer's settings, arrange options, the field named)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    ("cpt_time_range", {"duration_minutes": 45}, {}, {}, "lines[0].cpt_code"),
    ("cpt_time_range", {"lines": _lines("90832"), "duration_minutes": 40}, {}, {},
     "lines[0].cpt_code"),
    ("cpt_time_range", {"lines": _lines("90834"), "duration_minutes": 37}, {}, {},
     "lines[0].cpt_code"),
    ("cpt_time_range", {"lines": _lines("90847"), "duration_minutes": 25}, {}, {},
     "lines[0].cpt_code"),
    ("one_primary_code", {"lines": _lines("90834", "90837")}, {}, {}, "lines[1].cpt_code"),
    ("add_on_without_primary", {"lines": _lines("90785")}, {}, {}, "lines[0].cpt_code"),
    ("add_on_without_primary", {"lines": _lines("90785", "90837")}, {}, {},
     "lines[0].cpt_code"),
    ("cpt_code_unknown", {"lines": _lines("99213")}, {}, {}, "lines[0].cpt_code"),
    ("icd10_format", {"diagnosis_codes": ["41.1"]}, {}, {}, "diagnosis_codes[0]"),
    ("icd10_format", {"diagnosis_codes": ["F41.1", "F4"]}, {}, {}, "diagnosis_codes[1]"),
    ("diagnosis_count", {"diagnosis_codes": []}, {}, {}, "diagnosis_codes"),
    ("diagnosis_count", {"diagnosis_codes": [f"F4{n}" for n in range(10)] + ["F32", "F33", "F34"]},
     {}, {}, "diagnosis_codes"),
    ("diagnosis_pointer", {"lines": [{"cpt_code": "90837", "diagnosis_pointers": [1, 2]}]},
     {}, {}, "lines[0].diagnosis_pointers"),
    ("telehealth_modifier", {"place_of_service": "10"}, {}, {}, "lines[0].modifiers"),
    ("telehealth_modifier", {"place_of_service": "02", "lines": _lines("90837", modifiers=["GT"])},
     {}, {}, "lines[0].modifiers"),
    ("telehealth_modifier", {"lines": _lines("90837", modifiers=["95"])}, {}, {},
     "lines[0].modifiers"),
    ("telehealth_modifier", {"place_of_service": "10", "lines": _lines("90837", modifiers=["95"])},
     {"telehealth_modifier": None}, {}, "lines[0].modifiers"),
    ("note_not_attested", {"note_attested": False}, {}, {}, "note_attested"),
    ("not_started", {AGO: -1}, {}, {}, "started_at"),
    ("policy_inactive", {"started_at": "2025-12-31T10:00:00-05:00"}, {}, {}, "policy_id"),
    ("not_credentialed", {}, {}, {"credentialed": False}, "provider_id"),
    ("timely_filing_closed", {AGO: 40}, {"timely_filing_days": 30}, {},
     "started_at"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "change", "payer", "options", "field"), CASES)
async def test_each_rule_refuses_by_name_and_changes_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    rule: str,
    change: dict[str, Any],
    payer: dict[str, Any],
    options: dict[str, Any],
    field: str,
) -> None:
    if AGO in change:
        change = {"started_at": _ago(change[AGO])}
    visit = await arrange(db, settings, **options, **payer)
    before = await session_row(db, visit.session.id)
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete",
        json=completion_body(**change),
        headers=token(visit.provider),
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["errors"][0]["field"]) == (rule, field)
    assert await session_row(db, visit.session.id) == before
    assert before["status"] == "scheduled"


async def test_the_provider_completes_and_the_session_is_confirmed_with_its_lines(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    body = completion_body(
        place_of_service="10",
        lines=[
            {"cpt_code": "90837", "modifiers": ["95"], "diagnosis_pointers": [2, 1]},
            {"cpt_code": "90785", "modifiers": ["95"], "diagnosis_pointers": [1]},
        ],
        diagnosis_codes=["F41.1", "F32.A"],
    )
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete", json=body, headers=token(visit.provider)
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["session"]["status"] == "confirmed"
    assert out["session"]["place_of_service"] == "10"
    assert out["session"]["diagnosis_codes"] == ["F411", "F32A"]
    assert out["session"]["confirmed_by"] == str(visit.provider.user_id)
    assert out["session"]["actual_minutes"] == 55
    assert [(x["cpt_code"], x["modifiers"], x["diagnosis_pointers"]) for x in out["lines"]] == [
        ("90837", ["95"], [2, 1]),
        ("90785", ["95"], [1]),
    ]
    row = await session_row(db, visit.session.id)
    assert (row["status"], row["lines"]) == ("confirmed", 2)
    audits = await audit_rows(db, "therapy_session", visit.session.id)
    assert ("update", visit.provider.user_id) in [(a["action"], a["actor_user_id"]) for a in audits]
    again = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete", json=body, headers=token(visit.provider)
    )
    assert again.status_code == 409


@pytest.mark.parametrize(("code", "minutes"), [("90832", 16), ("90832", 37), ("90834", 38),
                                               ("90834", 52), ("90837", 53), ("90791", 60),
                                               ("90846", 26), ("90847", 50)])  # fmt: skip
async def test_each_code_at_the_edges_of_its_range_completes(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    code: str,
    minutes: int,
) -> None:
    visit = await arrange(db, settings)
    body = completion_body(lines=_lines(code), duration_minutes=minutes)
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete", json=body, headers=token(visit.ops)
    )
    assert response.status_code == 200, response.text


async def test_a_self_pay_session_needs_no_credentialing(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings, credentialed=False, insured=False)
    body = completion_body(place_of_service="10")  # no payer: no telehealth modifier wanted
    response = await client.post(
        f"/therapy-sessions/{visit.session.id}/complete", json=body, headers=token(visit.provider)
    )
    assert response.status_code == 200, response.text


async def test_who_may_complete(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    other = await make_provider(db, settings)
    url = f"/therapy-sessions/{visit.session.id}/complete"
    body = completion_body()
    assert (await client.post(url, json=body)).status_code == 401
    assert (await client.post(url, json=body, headers=token(visit.client))).status_code == 403
    assert (await client.post(url, json=body, headers=token(other))).status_code == 404
    unknown = f"/therapy-sessions/{uuid.uuid4()}/complete"
    assert (await client.post(unknown, json=body, headers=token(visit.ops))).status_code == 404
    assert (await session_row(db, visit.session.id))["status"] == "scheduled"
    assert (await client.post(url, json=body, headers=token(visit.ops))).status_code == 200


async def test_a_user_gone_since_the_token_check_is_401_and_nothing_is_confirmed(
    db: asyncpg.Connection, settings: Settings
) -> None:
    """The token check proves the user once per request; one gone after it (the actor below,
    whose user never existed, stands for it) is refused at its first stored reference."""
    visit = await arrange(db, settings)
    gone = Actor(user_id=uuid.uuid4(), role="provider", provider_id=visit.provider.provider_id)
    data = msgspec.convert(completion_body(), CompleteSessionIn, strict=False)
    with pytest.raises(Unauthorized):
        async with db.transaction():  # the request's transaction, rolled back
            await complete_session(db, settings, gone, visit.session.id, data)
    assert (await session_row(db, visit.session.id))["status"] == "scheduled"


async def test_a_repeat_with_the_same_idempotency_key_gets_the_first_answer(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    url = f"/therapy-sessions/{visit.session.id}/complete"
    headers = token(visit.provider) | {"Idempotency-Key": "complete-1"}
    first = await client.post(url, json=completion_body(), headers=headers)
    second = await client.post(url, json=completion_body(), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    other = await client.post(url, json=completion_body(duration_minutes=60), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_an_unbooked_session_is_recorded_and_confirmed_at_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)  # the provider already sees the client
    body = completion_body(client_id=str(visit.client.client_id), policy_id=str(visit.policy_id))
    count = "SELECT count(*) FROM therapy_sessions WHERE provider_id = $1"
    before = await db.fetchval(count, visit.provider.provider_id)
    refused = await client.post(
        "/therapy-sessions/recorded",
        json=body | {"duration_minutes": 45},
        headers=token(visit.provider),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "cpt_time_range"
    assert await db.fetchval(count, visit.provider.provider_id) == before
    response = await client.post(
        "/therapy-sessions/recorded", json=body, headers=token(visit.provider)
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["session"]["status"] == "confirmed"
    assert out["session"]["provider_id"] == str(visit.provider.provider_id)
    assert await db.fetchval(count, visit.provider.provider_id) == before + 1
    as_client = await client.post(
        "/therapy-sessions/recorded", json=body, headers=token(visit.client)
    )
    assert as_client.status_code == 403


async def test_recording_with_a_policy_that_is_not_the_clients_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    visit = await arrange(db, settings)
    stranger = await arrange(db, settings)
    body = completion_body(
        provider_id=str(visit.provider.provider_id),
        client_id=str(visit.client.client_id),
        policy_id=str(stranger.policy_id),
    )
    count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
    before = await db.fetchval(count, visit.client.client_id)
    response = await client.post("/therapy-sessions/recorded", json=body, headers=token(visit.ops))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["errors"][0]["field"]) == ("policy_inactive", "policy_id")
    assert await db.fetchval(count, visit.client.client_id) == before
