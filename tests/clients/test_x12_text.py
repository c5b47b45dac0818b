"""Every value that can end up in an X12 file is refused at input, naming the field, when it
holds a delimiter (~ * ^ :) or a character outside the X12 basic and extended sets (issue 12,
item 3h). POST and PATCH alike; nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.core.settings import Settings
from tests.clients.helpers import signup_body
from tests.factories import make_client, make_ops, make_payer, make_policy, make_provider

UNSAFE = ["Lee~NM1*IL", "Lee*", "Lee^", "Lee:", "Lee\u20ac", "Lee\u4e2d", "Lee\x00"]
ADDRESS = {"line1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"}


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "x12_unsafe_text"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert "X12" in problem["errors"][0]["message"]


@pytest.mark.parametrize("value", UNSAFE)
async def test_signup_refuses_unsafe_names_and_addresses(
    client: httpx.AsyncClient, db: asyncpg.Connection, value: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM users")
    _refused(await client.post("/clients/signup", json=signup_body(last_name=value)), "last_name")
    bad_address = {**ADDRESS, "line1": f"1 {value} St"}
    response = await client.post("/clients/signup", json=signup_body(address=bad_address))
    _refused(response, "address.line1")
    assert await db.fetchval("SELECT count(*) FROM users") == before


async def test_accented_latin_names_are_accepted_as_written(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """People's real names are not refused; the X12 writers send them without accents."""
    body = signup_body(first_name="Jos\u00e9", last_name="Pe\u00f1a-\u0141uczak")
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 202, response.text
    stored = await db.fetchrow(
        "SELECT first_name, last_name FROM clients WHERE email = $1", body["email"]
    )
    assert tuple(stored) == ("Jos\u00e9", "Pe\u00f1a-\u0141uczak")


async def test_x12_safe_punctuation_is_accepted(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    body = signup_body(
        first_name="Mary-Jo (MJ)",
        last_name="O'Brien-Smith Jr.",
        address={**ADDRESS, "line1": "1/2 Main St #3"},
    )
    response = await client.post("/clients/signup", json=body)
    assert response.status_code == 202, response.text
    stored = await db.fetchrow(
        "SELECT last_name, address_line1 FROM clients WHERE email = $1", body["email"]
    )
    assert tuple(stored) == ("O'Brien-Smith Jr.", "1/2 Main St #3")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"last_name": "Lee~NM1*IL"}, "last_name"),
        ({"first_name": "A^B"}, "first_name"),
        ({"address": {**ADDRESS, "city": "Spring:field"}}, "address.city"),
        ({"address": {**ADDRESS, "line2": "Apt ~3"}}, "address.line2"),
    ],
)
async def test_client_patch_refuses_unsafe_text(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    change: dict[str, Any],
    field: str,
) -> None:
    me = await make_client(db, settings)
    _refused(await client.patch(f"/clients/{me.client_id}", json=change, headers=token(me)), field)
    row = await db.fetchrow(
        "SELECT first_name, last_name, city FROM clients WHERE id = $1", me.client_id
    )
    assert tuple(row) == ("Ada", "Lovelace", "Springfield")


def _policy_body(payer_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payer_id": str(payer_id),
        "member_id": "AB12",
        "priority": "primary",
        "relationship": "self",
        "effective_from": "2020-01-01",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"member_id": "AB*12"}, "member_id"),
        ({"group_number": "G~1"}, "group_number"),
        ({"member_id": "AB:12"}, "member_id"),
        ({"patient_member_id": "P^1", "relationship": "child"}, "patient_member_id"),
        (
            {
                "relationship": "spouse",
                "subscriber": {
                    "first_name": "Pat",
                    "last_name": "Lee~NM1",
                    "date_of_birth": "1970-01-01",
                    "sex": "F",
                },
            },
            "subscriber.last_name",
        ),
    ],
)
async def test_policies_refuse_unsafe_ids_and_names_on_post_and_patch(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    change: dict[str, Any],
    field: str,
) -> None:
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    path = f"/clients/{me.client_id}/policies"
    _refused(await client.post(path, json=_policy_body(payer, **change), headers=token(me)), field)
    policy = await make_policy(db, me, payer)
    _refused(await client.patch(f"{path}/{policy}", json=change, headers=token(me)), field)
    assert (
        await db.fetchval("SELECT member_id FROM insurance_policies WHERE id = $1", policy)
        == "M123456"
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM insurance_policies WHERE client_id = $1", me.client_id
        )
        == 1
    )


async def test_providers_and_payers_refuse_unsafe_names(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops: Actor = await make_ops(db)
    from tests.factories import provider_body

    onboard = await client.post(
        "/providers", json=provider_body(last_name="Okafor*"), headers=token(ops)
    )
    _refused(onboard, "last_name")
    provider = await make_provider(db, settings, ops)
    patched = await client.patch(
        f"/providers/{provider.provider_id}", json={"first_name": "Ma~ya"}, headers=token(provider)
    )
    _refused(patched, "first_name")
    location = await client.post(
        f"/providers/{provider.provider_id}/locations",
        json={"name": "Office~NM1*77", "place_of_service": "10"},
        headers=token(provider),
    )
    _refused(location, "name")
    office = {"name": "Office", "place_of_service": "11", "address": {**ADDRESS, "zip": "6270*"}}
    located = await client.post(
        f"/providers/{provider.provider_id}/locations", json=office, headers=token(provider)
    )
    assert located.status_code == 400  # a malformed ZIP is not an X12 question: still 400
    payer = await client.post(
        "/payers",
        json={"name": "Acme^Health", "x12_payer_id": "ACME9", "timely_filing_days": 90},
        headers=token(ops),
    )
    _refused(payer, "name")
    nul = await client.post(
        "/payers",
        json={"name": "bad\x00name", "x12_payer_id": "ACME9", "timely_filing_days": 90},
        headers=token(ops),
    )
    _refused(nul, "name")
    payer_id = (await make_payer(db)).id
    renamed = await client.patch(
        f"/payers/{payer_id}", json={"name": "Acme:Health"}, headers=token(ops)
    )
    _refused(renamed, "name")
    assert await db.fetchval("SELECT name FROM payers WHERE id = $1", payer_id) == "Acme Health"
