"""Client profiles: read, change, list, and the provider visibility rule."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from services.clients.service import provider_sees_client
from services.core.settings import Settings
from services.therapy_sessions.service import cancel_session
from tests.clients.helpers import audit_rows
from tests.factories import make_client, make_ops, make_provider, make_session


async def test_client_reads_and_changes_their_profile(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_client(db, settings)
    got = await client.get(f"/clients/{me.client_id}", headers=token(me))
    assert got.status_code == 200
    assert got.json()["first_name"] == "Ada"
    changed = await client.patch(
        f"/clients/{me.client_id}",
        json={"first_name": "Augusta", "phone": None, "address": {
            "line1": "2 Elm St", "line2": "Apt 3", "city": "Chicago", "state": "IL",
            "zip": "606011234"}},
        headers=token(me),
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert out["first_name"] == "Augusta"
    assert out["last_name"] == "Lovelace"  # untouched
    assert out["phone"] is None
    assert out["address"]["zip"] == "606011234"
    row = await db.fetchrow("SELECT first_name, line2 FROM (SELECT first_name, address_line2 AS"
                            " line2 FROM clients WHERE id = $1) c", me.client_id)  # fmt: skip
    assert (row["first_name"], row["line2"]) == ("Augusta", "Apt 3")
    actions = [
        (r["action"], r["actor_user_id"]) for r in await audit_rows(db, "client", me.client_id)
    ]
    assert actions == [("create", me.user_id), ("read", me.user_id), ("update", me.user_id)]


async def test_patch_refuses_bad_dates_and_unknown_fields_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_client(db, settings)
    path = f"/clients/{me.client_id}"
    future = await client.patch(path, json={"date_of_birth": "2999-01-01"}, headers=token(me))
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "date_of_birth"
    email = await client.patch(path, json={"email": "x@example.test"}, headers=token(me))
    assert email.status_code == 400
    nul = await client.patch(path, json={"last_name": "\x00"}, headers=token(me))
    assert nul.status_code == 422  # outside the X12 character sets (tests/clients/test_x12_text.py)
    assert (
        await db.fetchval("SELECT last_name FROM clients WHERE id = $1", me.client_id) == "Lovelace"
    )


async def test_provider_sees_a_client_only_with_a_non_cancelled_session(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    patient = await make_client(db, settings)
    assert provider.provider_id
    assert patient.client_id
    path = f"/clients/{patient.client_id}"

    assert not await provider_sees_client(db, provider.provider_id, patient.client_id)
    before = await client.get(path, headers=token(provider))
    assert before.status_code == 404
    assert "Lovelace" not in before.text
    assert (await client.get("/clients", headers=token(provider))).json()["items"] == []

    session = await make_session(db, ops, provider, patient)
    assert await provider_sees_client(db, provider.provider_id, patient.client_id)
    during = await client.get(path, headers=token(provider))
    assert during.status_code == 200
    listed = (await client.get("/clients", headers=token(provider))).json()["items"]
    assert [c["id"] for c in listed] == [str(patient.client_id)]

    await cancel_session(db, ops, session.id, "moved away")
    assert not await provider_sees_client(db, provider.provider_id, patient.client_id)
    assert (await client.get(path, headers=token(provider))).status_code == 404
    assert (await client.get("/clients", headers=token(provider))).json()["items"] == []


async def test_ops_list_pages_and_audits_each_client_returned(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    made = [await make_client(db, settings) for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/clients", params=params, headers=token(ops))
        assert page.status_code == 200
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {str(c.client_id) for c in made} <= set(seen)
    for c in made:
        assert c.client_id is not None
        reads = [r for r in await audit_rows(db, "client", c.client_id) if r["action"] == "read"]
        assert len(reads) == 1
        assert (reads[0]["actor_user_id"], reads[0]["actor_role"]) == (ops.user_id, "ops")
        assert reads[0]["request_id"]


async def test_bad_list_parameters_are_400(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"cursor": "%%%"},
                   {"limit": 10**30}, {"cursor": "a" * 300}):  # fmt: skip
        response = await client.get("/clients", params=params, headers=token(ops))
        assert response.status_code == 400, (params, response.text)
