"""Booking by each role and its refusals; cancel and no-show transitions; lists and audit."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.clients.helpers import audit_rows, session_body
from tests.factories import (
    future,
    make_client,
    make_insured_client,
    make_ops,
    make_payer,
    make_policy,
    make_provider,
    make_session,
    move_to_past,
)


async def test_a_client_books_with_any_provider_using_their_own_policy(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me, policy_id = await make_insured_client(db, settings)
    response = await client.post(
        "/therapy-sessions",
        json=session_body(provider, policy_id=str(policy_id)),
        headers=token(me),
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["client_id"] == str(me.client_id)
    assert out["provider_id"] == str(provider.provider_id)
    assert out["status"] == "scheduled"
    assert out["created_by"] == str(me.user_id)
    row = await db.fetchrow("SELECT status, policy_id FROM therapy_sessions WHERE id = $1::uuid",
                            out["id"])  # fmt: skip
    assert (row["status"], row["policy_id"]) == ("scheduled", policy_id)
    [audit] = await audit_rows(db, "therapy_session", uuid.UUID(out["id"]))
    assert (audit["actor_user_id"], audit["action"]) == (me.user_id, "create")
    assert audit["request_id"]


async def test_ops_book_for_anyone_and_self_pay_needs_no_policy(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    patient = await make_client(db, settings)
    response = await client.post("/therapy-sessions", json=session_body(provider, patient),
                                 headers=token(ops))  # fmt: skip
    assert response.status_code == 201
    assert response.json()["policy_id"] is None
    missing = await client.post("/therapy-sessions", json=session_body(provider),
                                headers=token(ops))  # fmt: skip
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "client_id"


async def test_a_provider_books_only_for_a_client_they_already_see(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    other = await make_provider(db, settings)
    patient = await make_client(db, settings)
    body = session_body(provider, patient)
    refused = await client.post("/therapy-sessions", json=body, headers=token(provider))
    assert refused.status_code == 404
    await make_session(db, ops, provider, patient)
    again = await client.post("/therapy-sessions", json=body, headers=token(provider))
    assert again.status_code == 201
    for_other = await client.post("/therapy-sessions", json=session_body(other, patient),
                                  headers=token(provider))  # fmt: skip
    assert for_other.status_code == 404
    count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
    assert await db.fetchval(count, patient.client_id) == 2


async def test_a_client_cannot_book_for_someone_else_or_with_their_policy(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    other, their_policy = await make_insured_client(db, settings)
    for_other = await client.post("/therapy-sessions", json=session_body(provider, other),
                                  headers=token(me))  # fmt: skip
    assert for_other.status_code == 404
    borrowed = await client.post("/therapy-sessions",
                                 json=session_body(provider, policy_id=str(their_policy)),
                                 headers=token(me))  # fmt: skip
    assert borrowed.status_code == 422
    assert borrowed.json()["errors"][0]["field"] == "policy_id"
    assert await db.fetchval("SELECT count(*) FROM therapy_sessions WHERE client_id = ANY($1)",
                             [me.client_id, other.client_id]) == 0  # fmt: skip


async def test_the_policy_must_cover_the_session_date(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    ends = future(3).date()
    policy_id = await make_policy(db, me, (await make_payer(db)).id, effective_to=ends)
    late = await client.post("/therapy-sessions",
                             json=session_body(provider, policy_id=str(policy_id),
                                               starts_at=future(10).isoformat()),
                             headers=token(me))  # fmt: skip
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "policy_id"
    ok = await client.post("/therapy-sessions",
                           json=session_body(provider, policy_id=str(policy_id),
                                             starts_at=future(1).isoformat()),
                           headers=token(me))  # fmt: skip
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"provider_id": str(uuid.uuid4())}, 422, "provider_id"),
        ({"policy_id": str(uuid.uuid4())}, 422, "policy_id"),
        ({"starts_at": "2001-01-01T10:00:00+00:00"}, 422, "starts_at"),
        ({"starts_at": "2999-01-01T10:00:00+00:00"}, 422, "starts_at"),
        ({"starts_at": "2030-01-01T10:00:00"}, 400, "starts_at"),  # no offset
        ({"starts_at": "yesterday"}, 400, "starts_at"),
        ({"duration_minutes": 14}, 400, "duration_minutes"),
        ({"duration_minutes": 241}, 400, "duration_minutes"),
        ({"duration_minutes": 10**20}, 400, "duration_minutes"),
        ({"duration_minutes": "fifty"}, 400, "duration_minutes"),
        ({"place_of_service": "12"}, 400, "place_of_service"),
        ({"place_of_service": "1\x001"}, 400, "place_of_service"),
        ({"status": "cancelled"}, 400, "status"),
    ],
)
async def test_bad_bookings_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    response = await client.post("/therapy-sessions", json=session_body(provider, **change),
                                 headers=token(me))  # fmt: skip
    assert response.status_code == status, response.text
    problem = response.json()
    named = [e["field"] for e in problem["errors"]] + [problem["errors"][0]["message"]]
    assert field in problem["detail"] or any(field in n for n in named)
    count = "SELECT count(*) FROM therapy_sessions WHERE client_id = $1"
    assert await db.fetchval(count, me.client_id) == 0


async def test_cancel_only_from_scheduled(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    for actor in (me, provider, ops):
        session = await make_session(db, ops, provider, me)
        path = f"/therapy-sessions/{session.id}/cancel"
        done = await client.post(path, json={"reason": "sick"}, headers=token(actor))
        assert done.status_code == 200, done.text
        out = done.json()
        assert (out["status"], out["cancel_reason"], out["cancelled_by"]) == (
            "cancelled", "sick", str(actor.user_id))  # fmt: skip
        assert out["cancelled_at"] is not None
        twice = await client.post(path, json={"reason": "again"}, headers=token(actor))
        assert twice.status_code == 409
        assert twice.json()["errors"][0]["field"] == "status"
        actions = [r["action"] for r in await audit_rows(db, "therapy_session", session.id)]
        assert actions == ["create", "update"]
    empty = await client.post(f"/therapy-sessions/{session.id}/cancel", json={"reason": ""},
                              headers=token(ops))  # fmt: skip
    assert empty.status_code == 400


async def test_no_show_only_after_the_start_and_only_from_scheduled(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    me = await make_client(db, settings)
    session = await make_session(db, ops, provider, me)
    path = f"/therapy-sessions/{session.id}/no-show"
    early = await client.post(path, headers=token(provider))
    assert early.status_code == 409
    assert early.json()["errors"][0]["field"] == "starts_at"
    assert (await client.post(path, headers=token(me))).status_code == 403
    await move_to_past(db, session.id)
    marked = await client.post(path, headers=token(provider))
    assert marked.status_code == 200
    assert marked.json()["status"] == "no_show"
    assert (await client.post(path, headers=token(ops))).status_code == 409
    cancel = await client.post(f"/therapy-sessions/{session.id}/cancel", json={"reason": "x"},
                               headers=token(me))  # fmt: skip
    assert cancel.status_code == 409
    assert await db.fetchval("SELECT status FROM therapy_sessions WHERE id = $1",
                             session.id) == "no_show"  # fmt: skip


async def test_lists_are_scoped_filtered_paged_and_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    p1, p2 = await make_provider(db, settings), await make_provider(db, settings)
    c1, c2 = await make_client(db, settings), await make_client(db, settings)
    s11 = await make_session(db, ops, p1, c1, starts_at=future(3))
    s12 = await make_session(db, ops, p1, c2, starts_at=future(5))
    s21 = await make_session(db, ops, p2, c1, starts_at=future(7))

    async def ids(actor: Any, **params: Any) -> list[str]:
        response = await client.get("/therapy-sessions", params=params, headers=token(actor))
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    # Rows made in one transaction share created_at: the order is then by id.
    assert sorted(await ids(p1)) == sorted([str(s11.id), str(s12.id)])
    assert sorted(await ids(c1)) == sorted([str(s11.id), str(s21.id)])
    assert await ids(p1, provider_id=str(p2.provider_id)) == []
    assert await ids(c1, client_id=str(c2.client_id)) == []
    assert await ids(ops, client_id=str(c1.client_id), provider_id=str(p2.provider_id)) == [
        str(s21.id)
    ]
    window = {"from": future(4).isoformat(), "to": future(6).isoformat()}
    assert await ids(ops, provider_id=str(p1.provider_id), **window) == [str(s12.id)]
    assert await ids(ops, provider_id=str(p1.provider_id), status="cancelled") == []
    first = await client.get("/therapy-sessions", params={"limit": 1},
                             headers=token(p1))  # fmt: skip
    body = first.json()
    assert len(body["items"]) == 1
    assert body["next_cursor"]
    second = await client.get("/therapy-sessions",
                              params={"limit": 1, "cursor": body["next_cursor"]},
                              headers=token(p1))  # fmt: skip
    pages = {body["items"][0]["id"], *(s["id"] for s in second.json()["items"])}
    assert pages == {str(s11.id), str(s12.id)}
    assert second.json()["next_cursor"] is None
    reads = [r for r in await audit_rows(db, "therapy_session", s11.id) if r["action"] == "read"]
    assert {(r["actor_user_id"], r["actor_role"]) for r in reads} == {
        (p1.user_id, "provider"), (c1.user_id, "client"), (p1.user_id, "provider")}  # fmt: skip
    bad = await client.get("/therapy-sessions", params={"status": "done"}, headers=token(ops))
    assert bad.status_code == 400
    bad_from = await client.get("/therapy-sessions", params={"from": "soon"}, headers=token(ops))
    assert bad_from.status_code == 400


async def test_the_database_refuses_a_session_with_another_clients_policy(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings)
    me, other = await make_client(db, settings), await make_client(db, settings)
    their_policy = await make_policy(db, other, (await make_payer(db)).id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute(
            """
            INSERT INTO therapy_sessions (provider_id, client_id, policy_id, starts_at,
                                          duration_minutes, place_of_service, created_by)
            VALUES ($1, $2, $3, now() + interval '1 day', 50, '11', $4)
            """,
            provider.provider_id,
            me.client_id,
            their_policy,
            ops.user_id,
        )
