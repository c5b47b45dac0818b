"""The needs-ops queue and ops' resolution of a flag: what raised it and since when, pages,
audit rows, the history row a resolution leaves, refusals that change nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.claims import queries
from services.core.clock import Clock
from tests.authz import ROLES, expected_status, headers_for
from tests.bad_input import bad_note_bodies
from tests.claims.world import ClaimWorld, make_claim_world, session_of
from tests.factories import make_claim

pytestmark = pytest.mark.usefixtures("clock")


async def _flag(
    db: asyncpg.Connection, claim_id: uuid.UUID, kind: str, reason: str, at: Any
) -> None:
    assert await queries.flag_for_ops(db, claim_id, kind, reason, at)


async def _ops_row(db: asyncpg.Connection, claim_id: uuid.UUID) -> tuple[Any, ...]:
    row = await db.fetchrow(
        "SELECT needs_ops, ops_kind, ops_reason, ops_since, ops_submission_id FROM claims"
        " WHERE id = $1",
        claim_id,
    )
    assert row is not None
    return tuple(row)


async def test_the_queue_lists_flagged_claims_longest_waiting_first_in_pages(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock
) -> None:
    w = await make_claim_world(db)
    third = await make_claim(db, w.payer.id)
    start = clock.now()
    # Flagged in another order than created: the queue follows the flags' age.
    await _flag(db, w.claims[1], "unsendable", "the claim cannot be sent: zip", start)
    await _flag(db, third, "code_undecided", "277CA code no rule decides: A9:1", start)
    await _flag(db, w.claims[0], "no_277ca", "no 277CA yet 72 h after submission",
                start + timedelta(hours=1))  # fmt: skip
    ops = token(w.ops)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/claims/queues/needs-ops", params=params, headers=ops)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    first_two = sorted([str(w.claims[1]), str(third)])
    assert [c["id"] for c in seen] == [*first_two, str(w.claims[0])]
    last = seen[-1]
    assert (last["ops_kind"], last["ops_reason"]) == (
        "no_277ca",
        "no 277CA yet 72 h after submission",
    )
    assert last["ops_since"].startswith((start + timedelta(hours=1)).isoformat()[:19])
    assert last["status"] == "ready"
    assert "filing_deadline" in last
    audited = await db.fetch(
        "SELECT entity_id FROM audit_events WHERE actor_user_id = $1 AND action = 'read'"
        " AND entity = 'claim' ORDER BY id",
        w.ops.user_id,
    )
    assert sorted(r["entity_id"] for r in audited) == sorted([w.claims[0], w.claims[1], third])
    bad = await client.get("/claims/queues/needs-ops", params={"cursor": "bm90LWEtY3Vyc29y"},
                           headers=ops)  # fmt: skip
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_cursor")
    unflagged = await client.get("/claims/queues/needs-ops", params={"limit": 0}, headers=ops)
    assert unflagged.status_code == 400


async def test_the_same_flag_goes_up_once_and_another_replaces_it(
    db: asyncpg.Connection, clock: Clock
) -> None:
    w = await make_claim_world(db)
    claim = w.claims[0]
    at = clock.now()
    assert await queries.flag_for_ops(db, claim, "unsendable", "first", at)
    assert not await queries.flag_for_ops(db, claim, "unsendable", "again", at + timedelta(1))
    assert (await _ops_row(db, claim))[:4] == (True, "unsendable", "first", at)
    assert await queries.flag_for_ops(db, claim, "other", "second", at + timedelta(hours=1))
    events = await db.fetch(
        "SELECT from_status, to_status, ops_event, reason FROM claim_status_history"
        " WHERE claim_id = $1 AND ops_event IS NOT NULL ORDER BY id",
        claim,
    )
    assert [tuple(e) for e in events] == [
        ("ready", None, "flagged", "first"),
        ("ready", None, "flagged", "second"),
    ]


async def test_ops_resolve_a_flag_with_a_note_kept_in_the_history(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock
) -> None:
    w = await make_claim_world(db)
    claim = w.claims[0]
    session_claim = f"/therapy-sessions/{await session_of(db, claim)}/claim"
    status_since = (await client.get(session_claim, headers=token(w.ops))).json()[0]
    clock.advance(timedelta(minutes=5))
    since = clock.now()
    await _flag(db, claim, "unsendable", "the claim cannot be sent: subscriber.address.zip", since)
    clock.advance(timedelta(hours=2))
    response = await client.post(
        f"/claims/{claim}/ops-resolution",
        json={"note": "client's ZIP corrected to 9 digits"},
        headers=token(w.ops),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["claim_id"], body["kind"], body["note"]) == (
        str(claim), "unsendable", "client's ZIP corrected to 9 digits",
    )  # fmt: skip
    assert body["reason"] == "the claim cannot be sent: subscriber.address.zip"
    assert body["resolved_by"] == str(w.ops.user_id)
    assert await _ops_row(db, claim) == (False, None, None, None, None)
    detail = (await client.get(f"/claims/{claim}", headers=token(w.ops))).json()
    assert [(h["from_status"], h["to_status"], h["ops_event"], h["reason"], h["actor_user_id"])
            for h in detail["history"]] == [
        (None, "ready", None, "session confirmed", detail["history"][0]["actor_user_id"]),
        ("ready", None, "flagged", "the claim cannot be sent: subscriber.address.zip", None),
        ("ready", None, "resolved", "client's ZIP corrected to 9 digits", str(w.ops.user_id)),
    ]  # fmt: skip
    updates = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'update' AND entity = 'claim'"
        " AND entity_id = $1",
        claim,
    )
    assert updates == 1
    queue = (await client.get("/claims/queues/needs-ops", headers=token(w.ops))).json()
    assert queue["items"] == []
    # Flags and resolutions are no status change: the claim is `ready` since it was made.
    assert (await client.get(session_claim, headers=token(w.ops))).json()[0] == status_since
    # Nothing is flagged any more: a second resolution is refused and writes nothing.
    again = await client.post(
        f"/claims/{claim}/ops-resolution", json={"note": "again"}, headers=token(w.ops)
    )
    assert (again.status_code, again.json()["code"]) == (409, "claim_not_flagged")
    assert len((await client.get(f"/claims/{claim}", headers=token(w.ops))).json()["history"]) == 3


@pytest.mark.parametrize(("body", "field"), bad_note_bodies())
async def test_a_bad_resolution_is_refused_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    token: Any,
    clock: Clock,
    body: dict[str, Any],
    field: str,
) -> None:
    w = await make_claim_world(db)
    await _flag(db, w.claims[0], "unsendable", "cannot be sent", clock.now())
    response = await client.post(
        f"/claims/{w.claims[0]}/ops-resolution", json=body, headers=token(w.ops)
    )
    assert response.status_code == 400, response.text
    assert field in str(response.json().get("errors", response.json()))
    assert (await _ops_row(db, w.claims[0]))[0] is True


@pytest.mark.parametrize("obj", ["own", "foreign", "unknown"])
@pytest.mark.parametrize("role", ROLES)
async def test_resolution_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock, role: str,
    obj: str,
) -> None:  # fmt: skip
    w: ClaimWorld = await make_claim_world(db)
    for claim in w.claims:
        await _flag(db, claim, "unsendable", "cannot be sent", clock.now())
    target = {"own": w.claims[0], "foreign": w.claims[1]}.get(obj) or uuid.uuid4()
    response = await client.post(
        f"/claims/{target}/ops-resolution",
        json={"note": "looked at it"},
        headers=headers_for(token, w.actor(role)),
    )
    assert response.status_code == expected_status(role, obj, ("ops",), 200), response.text
    flagged = await db.fetchval("SELECT count(*) FROM claims WHERE needs_ops")
    assert flagged == (1 if response.status_code == 200 else 2)
