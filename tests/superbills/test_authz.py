"""Who may read a superbill and set the email choice: a session's client, its provider and
ops (a month: the client, ops, and a provider of theirs, who sees only their own sessions);
no token 401, a role the route does not admit 403, someone else's or an unknown id 404, each
a problem document that writes no audit row; a read that answers writes one."""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg
import pytest

from services.core.auth import Actor
from services.providers.details import set_self_pay_rate
from tests.authz import OBJECTS, ROLES, expected_status, headers_for
from tests.factories import make_provider, make_session
from tests.payments import world as w
from tests.superbills.helpers import month_of_now
from tests.therapy_sessions.completion import Visit, arrange, complete

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def _audit_rows(db: asyncpg.Connection) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM audit_events")
    return count


def _caller(role: str, visit: Visit) -> Actor | None:
    return {"none": None, "provider": visit.provider, "client": visit.client,
            "ops": visit.ops}[role]  # fmt: skip


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ["session", "month"])
async def test_superbill_reads(charging: w.Charging, route: str, role: str, obj: str) -> None:
    c = charging
    own = await c.completed(None)  # self-pay, no card: billed, nothing paid yet
    other = await c.completed(None)  # another provider's client
    target = {"own": own, "foreign": other, "unknown": None}[obj]
    if route == "session":
        url = f"/therapy-sessions/{target.session.id if target else uuid.uuid4()}/superbill"
    else:
        client_id = target.client.client_id if target else uuid.uuid4()
        url = f"/clients/{client_id}/superbills/{month_of_now(c.settings.statement_time_zone)}"
    before = await _audit_rows(c.db)
    response = await c.api.get(url, headers=headers_for(c.token, _caller(role, own)))
    expected = expected_status(role, obj, {"ops", "provider", "client"}, 200)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await _audit_rows(c.db) == before
    else:
        assert await _audit_rows(c.db) == before + 1  # the one session read
        assert response.json()["sessions"][0]["session_id"] == str(target.session.id)  # type: ignore[union-attr]


async def test_a_foreign_in_network_session_is_not_found_not_conflict(
    charging: w.Charging,
) -> None:
    c = charging
    insured = await arrange(c.db, c.settings)
    await complete(c.api, c.token, insured)  # a claim: the owner gets 409
    stranger = await c.completed(None)
    url = f"/therapy-sessions/{insured.session.id}/superbill"
    for who in (stranger.client, stranger.provider):
        assert (await c.api.get(url, headers=c.token(who))).status_code == 404
    assert (await c.api.get(url, headers=c.token(insured.client))).status_code == 409


async def test_a_provider_sees_only_their_own_sessions_of_a_clients_month(
    charging: w.Charging,
) -> None:
    c = charging
    first = await c.completed(None)
    second_provider = await make_provider(c.db, c.settings, first.ops)
    assert second_provider.provider_id is not None
    await set_self_pay_rate(c.db, second_provider.provider_id, "90837", 16000)
    session = await make_session(c.db, first.ops, second_provider, first.client, None)
    second = dataclasses.replace(first, provider=second_provider, session=session)
    await complete(c.api, c.token, second)
    url = (f"/clients/{first.client.client_id}/superbills/"
           f"{month_of_now(c.settings.statement_time_zone)}")  # fmt: skip
    seen = {}
    for who in (first.provider, second.provider, first.client, first.ops):
        bill = (await c.api.get(url, headers=c.token(who))).json()
        seen[who.user_id] = sorted(s["session_id"] for s in bill["sessions"])
    assert seen[first.provider.user_id] == [str(first.session.id)]
    assert seen[second.provider.user_id] == [str(second.session.id)]
    both = sorted([str(first.session.id), str(second.session.id)])
    assert seen[first.client.user_id] == seen[first.ops.user_id] == both


PREFERENCES = {"none": 401, "provider": 403}


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("role", ROLES)
async def test_superbill_preferences(charging: w.Charging, role: str, obj: str) -> None:
    c = charging
    own = await arrange(c.db, c.settings, insured=False)
    other = await arrange(c.db, c.settings, insured=False)
    client_id = {"own": own.client.client_id, "foreign": other.client.client_id,
                 "unknown": uuid.uuid4()}[obj]  # fmt: skip
    url = f"/clients/{client_id}/superbill-preferences"
    headers = headers_for(c.token, _caller(role, own))
    expected = expected_status(role, obj, {"ops", "client"}, 200)
    before = await _audit_rows(c.db)
    response = await c.api.put(url, json={"monthly_email": True}, headers=headers)
    assert response.status_code == expected, response.text
    read = await c.api.get(url, headers=headers)
    assert read.status_code == expected, read.text
    if expected >= 400:
        assert await _audit_rows(c.db) == before
        return
    assert response.json()["monthly_email"] is True
    assert read.json()["monthly_email"] is True
    assert await _audit_rows(c.db) == before + 2  # the change and the read


async def test_a_preference_body_is_checked(charging: w.Charging) -> None:
    c = charging
    own = await arrange(c.db, c.settings, insured=False)
    url = f"/clients/{own.client.client_id}/superbill-preferences"
    for body in ({}, {"monthly_email": "yes"}, {"monthly_email": True, "weekly": True}):
        response = await c.api.put(url, json=body, headers=c.token(own.client))
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
