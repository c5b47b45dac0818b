"""The claims API: provider and ops lists and reads, the rejected queue, a claim's versions,
a client's view of their session's claim; pages, filters and audit rows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.claims.world import make_claim_world, move_claim, session_of
from tests.factories import make_claim

pytestmark = pytest.mark.usefixtures("clock")


async def _audited(db: asyncpg.Connection, user_id: uuid.UUID | None) -> list[uuid.UUID]:
    rows = await db.fetch(
        "SELECT entity_id FROM audit_events WHERE actor_user_id = $1 AND action = 'read'"
        " AND entity = 'claim' ORDER BY id",
        user_id,
    )
    return [r["entity_id"] for r in rows]


async def test_a_provider_lists_their_claims_by_status_each_read_audited(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    provider = w.providers[0]
    second = await make_claim(db, w.payer.id, provider)
    await move_claim(db, second, "submitted", "sent in batch")

    every = await client.get("/claims", headers=token(provider))
    assert every.status_code == 200, every.text
    assert [c["id"] for c in every.json()["items"]] == [str(w.claims[0]), str(second)]
    assert every.json()["next_cursor"] is None
    ready = await client.get("/claims", params={"status": "ready"}, headers=token(provider))
    assert [(c["id"], c["status"]) for c in ready.json()["items"]] == [(str(w.claims[0]), "ready")]
    assert "diagnosis_codes" not in every.text
    assert await _audited(db, provider.user_id) == [w.claims[0], second, w.claims[0]]

    bad = await client.get("/claims", params={"status": "lost"}, headers=token(provider))
    assert bad.status_code == 400


async def test_pages_of_claims_and_a_bad_cursor(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    more = [await make_claim(db, w.payer.id) for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/claims", params=params, headers=token(w.ops))).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(x) for x in (*w.claims, *more)]
    for path in ("/claims", "/claims/queues/rejected", "/claims/queues/filing-deadline"):
        bad = await client.get(path, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=token(w.ops))
        assert bad.status_code == 400, path
        assert bad.json()["code"] == "bad_cursor"


async def test_one_claim_with_lines_history_and_filing_deadline(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db, timely_filing_days=90)
    await move_claim(db, w.claims[0], "submitted", "sent in batch")
    response = await client.get(f"/claims/{w.claims[0]}", headers=token(w.providers[0]))
    assert response.status_code == 200, response.text
    body = response.json()
    claim = body["claim"]
    assert claim["id"] == str(w.claims[0])
    assert claim["status"] == "submitted"
    assert [line["cpt_code"] for line in claim["lines"]] == ["90837"]
    assert [(h["from_status"], h["to_status"], h["reason"]) for h in body["history"]] == [
        (None, "ready", "session confirmed"),
        ("ready", "submitted", "sent in batch"),
    ]
    service_date = await db.fetchval("SELECT service_date FROM claims WHERE id = $1", w.claims[0])
    assert body["filing_deadline"] == (service_date + timedelta(days=90)).isoformat()
    assert body["filing_flagged_at"] is None
    assert await _audited(db, w.providers[0].user_id) == [w.claims[0]]


async def test_ops_read_a_claims_versions(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    response = await client.get(f"/claims/{w.claims[1]}/versions", headers=token(w.ops))
    assert response.status_code == 200, response.text
    number = await db.fetchval("SELECT claim_number FROM claims WHERE id = $1", w.claims[1])
    assert [(v["version"], v["frequency"], v["clm01"]) for v in response.json()] == [
        (1, "1", number + "01")
    ]
    assert await _audited(db, w.ops.user_id) == [w.claims[1]]


async def test_the_rejected_queue_keeps_the_latest_reason(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    for status, reason in [
        ("submitted", "sent"),
        ("rejected", "277CA A3:21 first"),
        ("submitted", "corrected and sent"),
        ("rejected", "277CA A7:562 second"),
    ]:
        await move_claim(db, w.claims[1], status, reason)
    response = await client.get("/claims/queues/rejected", headers=token(w.ops))
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["id"], item["status"], item["reason"]) == (
        str(w.claims[1]),
        "rejected",
        "277CA A7:562 second",
    )
    assert await _audited(db, w.ops.user_id) == [w.claims[1]]


async def test_a_client_sees_their_sessions_claim_status_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    await move_claim(db, w.claims[0], "rejected", "277CA A3:21 CARC 16 payer claim 99X")
    session_id = await session_of(db, w.claims[0])
    me = w.clients[0]
    response = await client.get(f"/therapy-sessions/{session_id}/claim", headers=token(me))
    assert response.status_code == 200, response.text
    [view] = response.json()
    assert set(view) == {"claim_id", "therapy_session_id", "status", "service_date", "status_since"}
    assert (view["claim_id"], view["status"]) == (str(w.claims[0]), "rejected")
    for internal in ("allowed", "A3:21", "99X", "charge", "diagnos", "payer"):
        assert internal not in response.text
    assert await _audited(db, me.user_id) == [w.claims[0]]

    foreign = await session_of(db, w.claims[1])
    probe = await client.get(f"/therapy-sessions/{foreign}/claim", headers=token(me))
    assert probe.status_code == 404
    assert str(w.claims[1]) not in probe.text
