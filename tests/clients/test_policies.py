"""Insurance policies: add, read, correct, end, and one primary and one secondary per date."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.clients.helpers import arrange_committed, audit_rows, committed_api
from tests.factories import (
    make_client,
    make_ops,
    make_payer,
    make_policy,
    make_provider,
    make_session,
)


def policy_body(payer: uuid.UUID, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payer_id": str(payer),
        "member_id": "ABC123456",
        "group_number": "G-100",
        "priority": "primary",
        "relationship": "self",
        "effective_from": "2024-01-01",
    }
    body.update(fields)
    return body


DEPENDANT = {
    "relationship": "child",
    "subscriber": {
        "first_name": "Grace",
        "last_name": "Hopper",
        "date_of_birth": "1966-12-09",
        "sex": "F",
    },
    "patient_member_id": "ABC123456-02",
}


async def test_client_adds_reads_corrects_and_ends_a_policy(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    base = f"/clients/{me.client_id}/policies"
    created = await client.post(base, json=policy_body(payer, **DEPENDANT), headers=token(me))
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["subscriber"] == DEPENDANT["subscriber"]
    assert policy["patient_member_id"] == "ABC123456-02"
    assert policy["effective_to"] is None
    path = f"{base}/{policy['id']}"

    assert (await client.get(path, headers=token(me))).json() == policy
    listed = await client.get(base, headers=token(me))
    assert [p["id"] for p in listed.json()["items"]] == [policy["id"]]

    patched = await client.patch(
        path, json={"relationship": "self", "subscriber": None, "patient_member_id": None},
        headers=token(me),
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["subscriber"] is None
    assert patched.json()["member_id"] == "ABC123456"

    ended = await client.post(f"{path}/end", json={"effective_to": "2024-06-30"}, headers=token(me))
    assert ended.status_code == 200
    assert ended.json()["effective_to"] == "2024-06-30"
    row = await db.fetchrow(
        "SELECT relationship, effective_to::text FROM insurance_policies WHERE id = $1::uuid",
        policy["id"],
    )
    assert tuple(row) == ("self", "2024-06-30")
    actions = [
        r["action"] for r in await audit_rows(db, "insurance_policy", uuid.UUID(policy["id"]))
    ]
    assert actions == ["create", "read", "read", "update", "update"]


async def test_one_primary_and_one_secondary_per_date(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    base = f"/clients/{me.client_id}/policies"
    first = await client.post(base, json=policy_body(payer, effective_to="2024-12-31"),
                              headers=token(me))  # fmt: skip
    assert first.status_code == 201
    overlap = await client.post(base, json=policy_body(payer, effective_from="2024-12-31"),
                                headers=token(me))  # fmt: skip
    assert overlap.status_code == 409
    assert overlap.json()["errors"][0]["field"] == "priority"
    secondary = await client.post(base, json=policy_body(payer, priority="secondary"),
                                  headers=token(me))  # fmt: skip
    assert secondary.status_code == 201
    next_year = await client.post(base, json=policy_body(payer, effective_from="2025-01-01"),
                                  headers=token(me))  # fmt: skip
    assert next_year.status_code == 201
    # Moving the first policy's end into next year's would overlap it.
    extend = await client.post(f"{base}/{first.json()['id']}/end",
                               json={"effective_to": "2025-03-01"}, headers=token(me))  # fmt: skip
    assert extend.status_code == 409
    # Turning the secondary into a primary overlaps both primaries.
    promote = await client.patch(f"{base}/{secondary.json()['id']}", json={"priority": "primary"},
                                 headers=token(me))  # fmt: skip
    assert promote.status_code == 409
    assert (
        await db.fetchval(
            "SELECT count(*) FROM insurance_policies WHERE client_id = $1", me.client_id
        )
        == 3
    )


async def test_the_exclusion_constraint_backs_the_overlap_rule(
    db: asyncpg.Connection, settings: Settings
) -> None:
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    await make_policy(db, me, payer)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await db.execute(
            """
            INSERT INTO insurance_policies (client_id, payer_id, key_id, priority, member_id,
                                            relationship, effective_from)
            SELECT client_id, payer_id, key_id, priority, 'X1', 'self', '2030-01-01'
            FROM insurance_policies WHERE client_id = $1
            """,
            me.client_id,
        )


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"payer_id": str(uuid.uuid4())}, 422, "payer_id"),
        ({"relationship": "spouse"}, 422, "subscriber"),
        ({"subscriber": DEPENDANT["subscriber"]}, 422, "subscriber"),
        ({"patient_member_id": "Z9"}, 422, "patient_member_id"),
        ({"effective_to": "2023-12-31"}, 422, "effective_to"),
        ({**DEPENDANT, "subscriber": {**DEPENDANT["subscriber"], "date_of_birth": "1800-01-01"}},
         422, "subscriber.date_of_birth"),
        ({"priority": "tertiary"}, 400, "priority"),
        ({"member_id": "A\x00B"}, 422, "member_id"),  # outside the X12 sets
        ({"member_id": "x" * 81}, 400, "member_id"),
        ({"effective_from": "2024-13-01"}, 400, "effective_from"),
        ({"effective_from": 20240101}, 400, "effective_from"),
        ({"payer_id": "not-a-uuid"}, 400, "payer_id"),
        ({"deleted": True}, 400, "deleted"),
    ],
)  # fmt: skip
async def test_bad_policies_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    response = await client.post(
        f"/clients/{me.client_id}/policies", json=policy_body(payer, **change), headers=token(me)
    )
    assert response.status_code == status, response.text
    problem = response.json()
    assert (
        field in problem["detail"]
        or field in problem["errors"][0]["message"]
        or any(e["field"] == field for e in problem.get("errors", []))
    )
    count = "SELECT count(*) FROM insurance_policies WHERE client_id = $1"
    assert await db.fetchval(count, me.client_id) == 0


async def test_provider_with_a_session_reads_policies_but_never_writes(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    policy_id = await make_policy(db, me, payer)
    base = f"/clients/{me.client_id}/policies"
    assert (await client.get(base, headers=token(provider))).status_code == 404
    await make_session(db, ops, provider, me, policy_id)
    listed = await client.get(base, headers=token(provider))
    assert [p["id"] for p in listed.json()["items"]] == [str(policy_id)]
    one = await client.get(f"{base}/{policy_id}", headers=token(provider))
    assert one.status_code == 200
    write = await client.post(base, json=policy_body(payer, priority="secondary"),
                              headers=token(provider))  # fmt: skip
    assert write.status_code == 403
    end = await client.post(f"{base}/{policy_id}/end", json={"effective_to": "2024-01-01"},
                            headers=token(provider))  # fmt: skip
    assert end.status_code == 403
    reads = [
        r for r in await audit_rows(db, "insurance_policy", policy_id) if r["action"] == "read"
    ]
    assert [(r["actor_user_id"], r["actor_role"]) for r in reads] == [
        (provider.user_id, "provider"),
        (provider.user_id, "provider"),
    ]


async def test_ops_manage_any_clients_policies(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    me = await make_client(db, settings)
    payer = (await make_payer(db)).id
    created = await client.post(f"/clients/{me.client_id}/policies", json=policy_body(payer),
                                headers=token(ops))  # fmt: skip
    assert created.status_code == 201
    [audit] = await audit_rows(db, "insurance_policy", uuid.UUID(created.json()["id"]))
    assert (audit["actor_user_id"], audit["action"], audit["entity"]) == (
        ops.user_id, "create", "insurance_policy")  # fmt: skip


async def test_concurrent_overlapping_policies_one_wins(
    committed_db: str, settings: Settings, token: Any
) -> None:
    # The client already has a primary from 2020 (open-ended): add two secondaries at once.
    _, me, _ = await arrange_committed(committed_db, settings)
    async with committed_api(settings, committed_db) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"/clients/{me.client_id}/policies",
                    json=policy_body(payer, priority="secondary", member_id=f"S{i}"),
                    headers=token(me),
                )
                for i, payer in enumerate([await _payer(committed_db)] * 6)
            )
        )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5


async def _payer(url: str) -> uuid.UUID:
    conn = await asyncpg.connect(url)
    try:
        return (await make_payer(conn)).id
    finally:
        await conn.close()
