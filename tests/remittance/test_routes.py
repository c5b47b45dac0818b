"""/recoupment-policies: list, read, set, delete, and the history every change leaves."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from tests.factories import make_ops

Row = dict[str, Any]


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


@pytest.fixture
def as_ops(token: Any, ops: Actor) -> dict[str, str]:
    return dict(token(ops))


async def _state(db: asyncpg.Connection) -> tuple[list[Row], int]:
    """Every policy row and the number of recorded changes: what a refusal must not touch."""
    rows = await db.fetch(
        "SELECT id, carc_group, carc_code, decision, condition, description, is_default,"
        " updated_at, updated_by FROM recoupment_policies ORDER BY carc_group, carc_code"
    )
    changes = await db.fetchval("SELECT count(*) FROM recoupment_policy_changes")
    return [dict(r) for r in rows], changes


async def _changes(client: httpx.AsyncClient, headers: dict[str, str], policy_id: str) -> list[Row]:
    response = await client.get(f"/recoupment-policies/{policy_id}/changes", headers=headers)
    assert response.status_code == 200, response.text
    items: list[Row] = response.json()["items"]
    return items


async def test_the_list_pages_through_every_default(
    client: httpx.AsyncClient, as_ops: dict[str, str]
) -> None:
    seen: list[Row] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/recoupment-policies", params=params, headers=as_ops)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 3
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len({p["id"] for p in seen}) == len(seen) == 10
    by_carc = {f"{p['group']}-{p['code']}": p for p in seen}
    assert by_carc["CO-50"]["rule"] == "recoup from the provider"
    assert by_carc["CO-16"]["rule"] == "absorb: the platform carries the loss"
    assert by_carc["CO-B7"]["rule"] == (
        "recoup when the provider's licence had lapsed on the date of service; absorb otherwise"
    )
    assert all(p["is_default"] and p["updated_by"] is None for p in seen)


async def test_a_policy_reads_by_id_and_an_unknown_id_is_404(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    policy_id = await db.fetchval(
        "SELECT id FROM recoupment_policies WHERE carc_group = 'CO' AND carc_code = '197'"
    )
    response = await client.get(f"/recoupment-policies/{policy_id}", headers=as_ops)
    assert response.status_code == 200
    assert response.json()["condition"] == "no_authorization_recorded"
    missing = await client.get(f"/recoupment-policies/{uuid.uuid4()}", headers=as_ops)
    assert missing.status_code == 404
    assert missing.json()["code"] == "recoupment_policy_not_found"


async def test_put_creates_then_changes_and_keeps_who_when_before_after(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, as_ops: dict[str, str]
) -> None:
    body = {"decision": "absorb", "description": "payer-initiated reduction"}
    created = await client.put("/recoupment-policies/pi/b9", json=body, headers=as_ops)
    assert created.status_code == 201, created.text
    policy = created.json()
    assert (policy["group"], policy["code"], policy["decision"]) == ("PI", "B9", "absorb")
    assert (policy["is_default"], policy["updated_by"]) == (False, str(ops.user_id))

    change = {"decision": "recoup", "condition": "confirmed_late", "description": "late"}
    changed = await client.put("/recoupment-policies/PI/B9", json=change, headers=as_ops)
    assert changed.status_code == 200, changed.text
    assert changed.json()["id"] == policy["id"]
    assert changed.json()["condition"] == "confirmed_late"

    history = await _changes(client, as_ops, policy["id"])
    assert [c["action"] for c in history] == ["create", "update"]
    assert history[0]["before"] is None
    assert history[0]["after"] == {**body, "condition": None}
    assert history[1]["before"] == {**body, "condition": None}
    assert history[1]["after"] == change
    assert {c["changed_by"] for c in history} == {str(ops.user_id)}
    assert history[0]["request_id"] == created.headers["x-request-id"]
    assert history[1]["request_id"] == changed.headers["x-request-id"]
    assert history[0]["created_at"] <= history[1]["created_at"]


async def test_changing_a_default_keeps_it_a_default(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, as_ops: dict[str, str]
) -> None:
    body = {"decision": "recoup", "description": "missing information the provider gave us"}
    response = await client.put("/recoupment-policies/CO/16", json=body, headers=as_ops)
    assert response.status_code == 200, response.text
    policy = response.json()
    assert (policy["decision"], policy["is_default"]) == ("recoup", True)
    assert policy["updated_by"] == str(ops.user_id)
    (change,) = await _changes(client, as_ops, policy["id"])
    assert change["before"]["decision"] == "absorb"
    assert change["after"] == {**body, "condition": None}


async def test_setting_the_same_terms_records_no_change(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    current = (await client.get("/recoupment-policies", headers=as_ops)).json()["items"]
    co_29 = next(p for p in current if (p["group"], p["code"]) == ("CO", "29"))
    terms = {k: co_29[k] for k in ("decision", "condition", "description")}
    before = await _state(db)
    response = await client.put("/recoupment-policies/CO/29", json=terms, headers=as_ops)
    assert response.status_code == 200
    assert response.json() == co_29
    assert await _state(db) == before


# (path, body, status, field): the field each refusal names. CO-16 exists; CO-B9 does not.
GOOD = {"decision": "recoup", "description": "x"}
ABSORB = {"decision": "absorb", "description": "x"}
REFUSED: list[tuple[str, Any, int, str]] = [
    ("XX/50", GOOD, 400, "group"),
    ("C/50", GOOD, 400, "group"),
    ("CO/0", GOOD, 400, "code"),
    ("CO/050", GOOD, 400, "code"),
    ("CO/1234", GOOD, 400, "code"),
    ("CO/B", GOOD, 400, "code"),
    ("CO/B%00", GOOD, 400, "code"),
    ("CO/45", GOOD, 422, "code"),
    ("PI/45", GOOD, 422, "code"),
    ("CO/16", {"decision": "maybe", "description": "x"}, 400, "decision"),
    ("CO/16", {"decision": None, "description": "x"}, 400, "decision"),
    ("CO/16", {"description": "x"}, 400, "decision"),
    ("CO/16", {**GOOD, "condition": "whenever"}, 400, "condition"),
    ("CO/16", {**GOOD, "condition": 1}, 400, "condition"),
    ("CO/B9", {**ABSORB, "condition": "licence_lapsed"}, 422, "condition"),
    ("CO/16", {**ABSORB, "condition": "confirmed_late"}, 422, "condition"),
    ("CO/16", {"decision": "recoup"}, 400, "description"),
    ("CO/16", {"decision": "recoup", "description": ""}, 400, "description"),
    ("CO/16", {"decision": "recoup", "description": "a\x00b"}, 400, "description"),
    ("CO/16", {"decision": "recoup", "description": "x" * 201}, 400, "description"),
    ("CO/16", {**GOOD, "is_default": False}, 400, "is_default"),
    ("CO/16", [GOOD], 400, "body"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), REFUSED)
async def test_a_refused_put_names_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    as_ops: dict[str, str],
    path: str,
    body: Any,
    status: int,
    field: str,
) -> None:
    before = await _state(db)
    response = await client.put(f"/recoupment-policies/{path}", json=body, headers=as_ops)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]], response.text
    assert await _state(db) == before


async def test_a_body_that_is_not_json_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    before = await _state(db)
    response = await client.put(
        "/recoupment-policies/CO/16",
        content=b"{decision: recoup",
        headers={**as_ops, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert await _state(db) == before


async def test_a_default_cannot_be_deleted(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    before = await _state(db)
    response = await client.delete("/recoupment-policies/co/50", headers=as_ops)
    assert response.status_code == 409
    assert response.json()["code"] == "recoupment_policy_is_default"
    assert response.json()["errors"][0]["field"] == "code"
    assert await _state(db) == before


async def test_a_policy_ops_added_is_deleted_and_keeps_its_history(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, as_ops: dict[str, str]
) -> None:
    body = {"decision": "recoup", "description": "ops' own"}
    policy = (await client.put("/recoupment-policies/OA/B9", json=body, headers=as_ops)).json()
    deleted = await client.delete("/recoupment-policies/OA/b9", headers=as_ops)
    assert deleted.status_code == 204, deleted.text
    gone = await client.get(f"/recoupment-policies/{policy['id']}", headers=as_ops)
    assert gone.status_code == 404
    history = await _changes(client, as_ops, policy["id"])
    assert [c["action"] for c in history] == ["create", "delete"]
    assert history[1]["before"] == {**body, "condition": None}
    assert history[1]["after"] is None
    assert history[1]["changed_by"] == str(ops.user_id)
    again = await client.delete("/recoupment-policies/OA/B9", headers=as_ops)
    assert again.status_code == 404
    # Created again, it is a new row with a history of its own.
    recreated = await client.put("/recoupment-policies/OA/B9", json=body, headers=as_ops)
    assert recreated.status_code == 201
    assert recreated.json()["id"] != policy["id"]


async def test_changes_of_an_unknown_id_are_404_and_of_an_unchanged_default_empty(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    unknown = await client.get(f"/recoupment-policies/{uuid.uuid4()}/changes", headers=as_ops)
    assert unknown.status_code == 404
    policy_id = await db.fetchval(
        "SELECT id FROM recoupment_policies WHERE carc_group = 'OA' AND carc_code = '23'"
    )
    assert await _changes(client, as_ops, str(policy_id)) == []


async def test_a_bad_cursor_is_400_naming_it(
    client: httpx.AsyncClient, as_ops: dict[str, str]
) -> None:
    response = await client.get("/recoupment-policies?cursor=bm90LWEtY3Vyc29y", headers=as_ops)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_the_history_is_append_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, as_ops: dict[str, str]
) -> None:
    response = await client.put("/recoupment-policies/CO/16", json=GOOD, headers=as_ops)
    assert response.status_code == 200
    for statement in (
        "UPDATE recoupment_policy_changes SET action = 'create'",
        "DELETE FROM recoupment_policy_changes",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            async with db.transaction():
                await db.execute(statement)
    assert await db.fetchval("SELECT count(*) FROM recoupment_policy_changes") == 1


@pytest.mark.parametrize(
    ("group", "code", "decision", "condition", "constraint"),
    [
        ("CO", "45", "recoup", None, "recoupment_policies_45_is_no_loss"),
        ("CO", "B9", "absorb", "licence_lapsed", "recoupment_policies_condition_recoups"),
        ("XX", "B9", "absorb", None, "recoupment_policies_carc_group_check"),
        ("CO", "B9", "absorb", "free text", "recoupment_policies_condition_check"),
    ],
)
async def test_the_table_refuses_what_the_api_refuses(
    db: asyncpg.Connection,
    group: str,
    code: str,
    decision: str,
    condition: str | None,
    constraint: str,
) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        async with db.transaction():
            await db.execute(
                "INSERT INTO recoupment_policies"
                " (carc_group, carc_code, decision, condition, description)"
                " VALUES ($1, $2, $3, $4, 'x')",
                group,
                code,
                decision,
                condition,
            )
    assert refused.value.constraint_name == constraint
