"""Client signup, ops-created clients with invitations, and bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.clients.helpers import audit_rows, signup_body
from tests.factories import PASSWORD, make_ops


async def test_signup_creates_the_client_and_signs_them_in(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = signup_body(email="New.Client@Example.test")
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 201, response.text
    out = response.json()
    profile = out["client"]
    assert profile["email"] == "new.client@example.test"
    assert profile["address"] == {
        "line1": "1 Main St",
        "line2": None,
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
    }
    assert profile["date_of_birth"] == "1990-04-01"
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {out['tokens']['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["role"] == "client"
    assert me.json()["client_id"] == profile["id"]
    client_id = uuid.UUID(profile["id"])
    row = await db.fetchrow("SELECT user_id, first_name FROM clients WHERE id = $1", client_id)
    assert str(row["user_id"]) == profile["user_id"]
    assert row["first_name"] == "Ada"
    [audit] = await audit_rows(db, "client", client_id)
    assert audit["action"] == "create"
    assert str(audit["actor_user_id"]) == profile["user_id"]
    assert audit["request_id"]


async def test_duplicate_email_is_409_naming_email(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = signup_body()
    assert (await client.post("/clients/signup", json=body)).status_code == 201
    again = await client.post("/clients/signup", json=signup_body(email=body["email"].upper()))
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"
    assert again.json()["errors"][0]["field"] == "email"
    count = await db.fetchval("SELECT count(*) FROM clients WHERE email = $1", body["email"])
    assert count == 1


async def test_weak_password_is_400_naming_password(client: httpx.AsyncClient) -> None:
    response = await client.post("/clients/signup", json=signup_body(password="short"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


@pytest.mark.parametrize(
    "dob",
    [
        (datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
        "1899-12-31",
    ],
)
async def test_date_of_birth_in_the_future_or_before_1900_is_422(
    client: httpx.AsyncClient, db: asyncpg.Connection, dob: str
) -> None:
    body = signup_body(date_of_birth=dob)
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date_of_birth"
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = $1", body["email"]) == 0


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("first_name", {"first_name": "x" * 101}),
    ("first_name", {"first_name": 12}),
    ("date_of_birth", {"date_of_birth": "1990-02-30"}),
    ("date_of_birth", {"date_of_birth": 99999999999999999999}),
    ("sex", {"sex": "X"}),
    ("address.state", {"address": {"line1": "1", "city": "c", "state": "ZZ", "zip": "62701"}}),
    ("address.zip", {"address": {"line1": "1", "city": "c", "state": "IL", "zip": "6270"}}),
    ("phone", {"phone": "call me"}),
    ("email", {"email": "not-an-email"}),
    ("admin", {"admin": True}),
]


@pytest.mark.parametrize(("field", "change"), BAD_BODIES)
async def test_bad_signup_input_is_400_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, field: str, change: dict[str, Any]
) -> None:
    before = await db.fetchval("SELECT count(*) FROM users")
    response = await client.post("/clients/signup", json=signup_body(**change))
    assert response.status_code == 400, response.text
    problem = response.json()
    # An unknown field is named in the message (the field is the body itself).
    assert field in problem["detail"] or field in problem["errors"][0]["message"]
    assert await db.fetchval("SELECT count(*) FROM users") == before


async def test_not_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/clients/signup", content=b"\xff\x00{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_ops_create_a_client_with_an_invitation(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    body = signup_body()
    del body["password"]
    response = await client.post("/clients", json=body, headers=token(ops))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["client"]["email"] == body["email"]
    assert (
        await db.fetchval(
            "SELECT password_hash FROM users WHERE id = $1::uuid", out["client"]["user_id"]
        )
        is None
    )
    accepted = await client.post(
        "/auth/invites/accept", json={"token": out["invite_token"], "password": PASSWORD}
    )
    assert accepted.status_code == 200
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert me.json()["client_id"] == out["client"]["id"]
    [audit] = await db.fetch(
        "SELECT actor_user_id, action FROM audit_events WHERE entity = 'client'"
        " AND entity_id = $1::uuid",
        out["client"]["id"],
    )
    assert (audit["actor_user_id"], audit["action"]) == (ops.user_id, "create")


async def test_ops_create_refuses_a_password_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.post("/clients", json=signup_body(), headers=token(ops))
    assert response.status_code == 400
    assert "password" in response.json()["errors"][0]["message"]
