"""The estimate routes: who sees which (role x own / foreign / unknown), an estimate on
request, the client's list, and ops' queue of courses billed $400 or more above their estimate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.good_faith import GoodFaithEstimateOut, GoodFaithRequestIn
from services.core import clock as hearth_clock
from services.core.auth import Actor
from services.core.clock import Clock
from services.core.settings import Settings
from services.good_faith.service import EXPECTED_SESSIONS, request_estimate
from services.providers.details import set_self_pay_rate
from tests.authz import headers_for, matrix_cases, statuses
from tests.clients.helpers import World, audit_rows, make_world
from tests.good_faith.helpers import email_jobs, estimates, self_pay_parties
from tests.therapy_sessions.completion import completion_body


async def _world(db: asyncpg.Connection, settings: Settings) -> tuple[World, list[Any]]:
    """make_world's two pairs, each with an estimate asked for by ops."""
    w = await make_world(db, settings)
    issued = []
    for provider, client in zip(w.providers, w.clients, strict=True):
        assert provider.provider_id is not None
        await set_self_pay_rate(db, provider.provider_id, "90837", 19000)
        data = GoodFaithRequestIn(provider_id=provider.provider_id, client_id=client.client_id)
        issued.append(await request_estimate(db, w.ops, data))
    return w, issued


Request = tuple[str, str, dict[str, Any] | None]
Route = Callable[[World, list[GoodFaithEstimateOut], str], Request]


def _client_id(w: World, obj: str) -> uuid.UUID | None:
    return {"own": w.clients[0].client_id, "foreign": w.clients[1].client_id}.get(obj, uuid.uuid4())


def _request(w: World, _: list[GoodFaithEstimateOut], obj: str) -> Request:
    body = {"provider_id": str(w.providers[0].provider_id), "client_id": str(_client_id(w, obj))}
    return "POST", "/good-faith-estimates", body


ROUTES: dict[str, tuple[Route, list[tuple[str, str, int]]]] = {
    "list": (
        lambda w, _, o: ("GET", f"/clients/{_client_id(w, o)}/good-faith-estimates", None),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "get": (
        lambda w, e, o: (
            "GET",
            f"/good-faith-estimates/{ {'own': e[0].id, 'foreign': e[1].id}.get(o, uuid.uuid4()) }",
            None,
        ),
        statuses(401, (200, 404, 404), (200, 404, 404), (200, 200, 404)),
    ),
    "request": (
        _request,
        statuses(401, (201, 404, 404), (201, 404, 404), (201, 201, 404)),
    ),
    "exceeded": (
        lambda w, _, o: ("GET", "/good-faith-estimates/queues/exceeded", None),
        statuses(401, (403, 403, 403), (403, 403, 403), (200, 200, 200)),
    ),
}


@pytest.mark.parametrize(("route", "role", "obj", "status"), matrix_cases(ROUTES))
async def test_estimate_routes_matrix(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    route: str,
    role: str,
    obj: str,
    status: int,
) -> None:
    w, issued = await _world(db, settings)
    method, path, body = ROUTES[route][0](w, issued, obj)
    actor = w.actor(role)
    response = await client.request(method, path, json=body, headers=headers_for(token, actor))
    assert response.status_code == status, response.text
    if status == 404:
        assert "Bertha" not in response.text
        assert "total_cents" not in response.text
    if route == "list" and status == 200:
        ids = {item["id"] for item in response.json()["items"]}
        owner = 0 if obj == "own" else 1
        assert ids == {str(issued[owner].id)}
    if route == "request" and status >= 400:
        assert len(await estimates(db, w.clients[1])) == 1


async def test_a_provider_lists_only_their_own_estimates_of_a_shared_client(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    w, issued = await _world(db, settings)
    other = w.providers[1]
    assert other.provider_id is not None
    theirs = await request_estimate(
        db,
        w.ops,
        GoodFaithRequestIn(provider_id=other.provider_id, client_id=w.clients[0].client_id),
    )
    path = f"/clients/{w.clients[0].client_id}/good-faith-estimates"
    mine = await client.get(path, headers=token(w.providers[0]))
    assert [i["id"] for i in mine.json()["items"]] == [str(issued[0].id)]
    everyone = await client.get(path, params={"limit": 1}, headers=token(w.ops))
    page = everyone.json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = await client.get(path, params={"cursor": page["next_cursor"]}, headers=token(w.ops))
    assert {i["id"] for i in page["items"] + rest.json()["items"]} == {
        str(issued[0].id), str(theirs.id)}  # fmt: skip
    assert len(await audit_rows(db, "good_faith_estimate", issued[0].id)) >= 3


async def test_an_estimate_on_request_is_a_new_version_and_its_repeat_is_answered_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    _ops, _provider, me, provider_id = await self_pay_parties(db, settings)
    body: dict[str, Any] = {"provider_id": str(provider_id), "cpt_code": "90834"}
    refused = await client.post("/good-faith-estimates", json=body, headers=token(me))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "cpt_code"
    await set_self_pay_rate(db, provider_id, "90834", 14000)
    key = {"Idempotency-Key": f"gfe-{uuid.uuid4()}"}
    first = await client.post("/good-faith-estimates", json=body, headers=token(me) | key)
    assert first.status_code == 201, first.text
    out = first.json()
    assert (out["reason"], out["version"], out["expected_sessions"]) == (
        "requested", 1, EXPECTED_SESSIONS)  # fmt: skip
    assert out["period_start"] == hearth_clock.today().isoformat()
    assert out["document"]["client_name"] == "Ada Lovelace"
    repeat = await client.post("/good-faith-estimates", json=body, headers=token(me) | key)
    assert (repeat.status_code, repeat.json()) == (201, out)
    body["expected_sessions"] = 12
    second = await client.post("/good-faith-estimates", json=body, headers=token(me))
    assert second.status_code == 201
    assert (second.json()["version"], second.json()["total_cents"]) == (2, 12 * 14000)
    found = await estimates(db, me)
    assert [e["superseded_at"] is None for e in found] == [False, True]
    assert await email_jobs(db, [e["id"] for e in found]) == 2
    late = {**body, "first_session": (hearth_clock.today() - timedelta(days=1)).isoformat()}
    past = await client.post("/good-faith-estimates", json=late, headers=token(me))
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "first_session"


async def _record(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    provider_id: uuid.UUID,
    me: Actor,
    hours_ago: int,
    **fields: Any,
) -> str:
    """A self-pay session of `me` recorded (booked and completed at once) by ops; its id."""
    started = (hearth_clock.now() - timedelta(hours=hours_ago)).isoformat()
    recorded = completion_body(started_at=started, **fields)
    recorded |= {"provider_id": str(provider_id), "client_id": str(me.client_id)}
    response = await client.post("/therapy-sessions/recorded", json=recorded, headers=headers)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session"]["id"]
    return session_id


async def test_a_course_billed_400_dollars_above_its_estimate_is_flagged_not_blocked(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, clock: Clock
) -> None:
    ops, _provider, me, provider_id = await self_pay_parties(db, settings, cpt_90837=20000)
    body = {"provider_id": str(provider_id), "cpt_code": "90837", "expected_sessions": 1}
    asked = await client.post("/good-faith-estimates", json=body, headers=token(me))
    assert asked.status_code == 201, asked.text
    estimate = asked.json()
    queue = "/good-faith-estimates/queues/exceeded"

    async def record(hours_ago: int) -> None:
        await _record(client, token(ops), provider_id, me, hours_ago)

    await record(6)
    await record(4)  # billed 400.00, 200.00 above the estimate
    assert (await client.get(queue, headers=token(ops))).json()["items"] == []
    await record(2)  # billed 600.00: exactly 400.00 above
    [flagged] = (await client.get(queue, headers=token(ops))).json()["items"]
    assert (flagged["estimate_id"], flagged["billed_cents"], flagged["exceeded_by_cents"]) == (
        estimate["id"], 60000, 40000)  # fmt: skip
    count = "SELECT count(*) FROM client_charges WHERE client_id = $1"
    assert await db.fetchval(count, me.client_id) == 3  # every session still billed
    got = await client.get(f"/good-faith-estimates/{estimate['id']}", headers=token(me))
    assert got.json()["exceeded_at"] is not None


async def test_an_edited_self_pay_session_rebills_its_course(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any, clock: Clock
) -> None:
    """An edit within the window re-prices the session: its bill in the course is replaced,
    and the course is flagged once the edited bills reach $400 above the estimate."""
    ops, _provider, me, provider_id = await self_pay_parties(
        db, settings, cpt_90834=10000, cpt_90837=30000
    )
    body = {"provider_id": str(provider_id), "cpt_code": "90834", "expected_sessions": 1}
    assert (await client.post("/good-faith-estimates", json=body, headers=token(me))).is_success
    line_90834 = [{"cpt_code": "90834", "modifiers": [], "diagnosis_pointers": [1]}]
    sessions = [
        await _record(client, token(ops), provider_id, me, hours, lines=line_90834,
                      duration_minutes=45)
        for hours in (4, 2)
    ]  # fmt: skip
    billed = "SELECT sum(amount_cents) FROM good_faith_bills"
    assert await db.fetchval(billed) == 20000
    to_90837 = {
        "lines": [{"cpt_code": "90837", "modifiers": [], "diagnosis_pointers": [1]}],
        "duration_minutes": 55,
    }
    for n, session_id in enumerate(sessions):
        edited = await client.patch(
            f"/therapy-sessions/{session_id}", json=to_90837, headers=token(ops)
        )
        assert edited.status_code == 200, edited.text
        queue = await client.get("/good-faith-estimates/queues/exceeded", headers=token(ops))
        assert len(queue.json()["items"]) == n  # 30000 above, then 50000 above
    assert await db.fetchval(billed) == 60000
