"""Appeals: open -> submitted -> won | lost | withdrawn (409 for any other move), notes appended
with their author and time, and GET /appeals by status and deadline."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.denials.world import deny

pytestmark = pytest.mark.usefixtures("clock")


async def _appeal(
    client: httpx.AsyncClient, headers: dict[str, str], denial_id: uuid.UUID, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/denials/{denial_id}/appeals", json={"note": "first letter", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    appeal: dict[str, Any] = response.json()["appeal"]["appeal"]
    return appeal


async def _move(client, headers, appeal_id, status, note=None) -> httpx.Response:
    body = {"status": status} if note is None else {"status": status, "note": note}
    return await client.patch(f"/appeals/{appeal_id}", json=body, headers=headers)


@pytest.mark.parametrize("outcome", ["won", "lost", "withdrawn"])
async def test_an_appeal_is_submitted_then_decided(
    client, db, ops, provider, payer_id, as_ops, outcome
):
    appeal = await _appeal(client, as_ops, (await deny(db, ops, provider, payer_id)).id)
    submitted = await _move(client, as_ops, appeal["id"], "submitted", "sent by fax")
    assert submitted.status_code == 200, submitted.text
    row = submitted.json()["appeal"]
    assert row["status"] == "submitted"
    assert row["submitted_by"] == str(ops.user)
    assert row["submitted_at"] is not None
    decided = await _move(client, as_ops, appeal["id"], outcome)
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["appeal"]["status"] == outcome
    assert body["appeal"]["closed_by"] == str(ops.user)
    assert [(n["from_status"], n["to_status"], n["body"]) for n in body["notes"]] == [
        (None, "open", "first letter"), ("open", "submitted", "sent by fax"),
        ("submitted", outcome, None),
    ]  # fmt: skip
    # Closed: no move is left.
    again = await _move(client, as_ops, appeal["id"], "submitted")
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "status"


ILLEGAL = [(None, "won"), (None, "lost"), (None, "open"), ("submitted", "open"),
           ("submitted", "submitted")]  # fmt: skip


@pytest.mark.parametrize(("first", "then"), ILLEGAL)
async def test_an_illegal_move_is_409_and_changes_nothing(
    client, db, ops, provider, payer_id, as_ops, first, then
):
    appeal = await _appeal(client, as_ops, (await deny(db, ops, provider, payer_id)).id)
    if first is not None:
        assert (await _move(client, as_ops, appeal["id"], first)).status_code == 200
    before = await db.fetchrow("SELECT * FROM claim_appeals WHERE id = $1", uuid.UUID(appeal["id"]))
    response = await _move(client, as_ops, appeal["id"], then)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "appeal_status_transition"
    after = await db.fetchrow("SELECT * FROM claim_appeals WHERE id = $1", uuid.UUID(appeal["id"]))
    assert dict(before) == dict(after)


async def test_an_open_appeal_may_be_withdrawn(client, db, ops, provider, payer_id, as_ops):
    appeal = await _appeal(client, as_ops, (await deny(db, ops, provider, payer_id)).id)
    response = await _move(client, as_ops, appeal["id"], "withdrawn", "payer reprocessed it")
    assert response.status_code == 200
    assert response.json()["appeal"]["submitted_at"] is None


async def test_notes_are_appended_with_author_and_time(
    client, db, ops, provider, payer_id, as_ops, clock
):
    denial = await deny(db, ops, provider, payer_id)
    appeal = await _appeal(client, as_ops, denial.id)
    added = await client.post(
        f"/appeals/{appeal['id']}/notes", json={"note": "called the payer"}, headers=as_ops
    )
    assert added.status_code == 201, added.text
    note = added.json()
    assert (note["kind"], note["body"], note["author_id"]) == (
        "note", "called the payer", str(ops.user),
    )  # fmt: skip
    assert note["at"].startswith(clock.now().date().isoformat())
    shown = await client.get(f"/appeals/{appeal['id']}", headers=as_ops)
    assert [n["body"] for n in shown.json()["notes"]] == ["first letter", "called the payer"]
    detail = (await client.get(f"/denials/{denial.id}", headers=as_ops)).json()
    assert [e["kind"] for e in detail["history"]] == [
        "denied", "resolved", "appeal_status", "appeal_note",
    ]  # fmt: skip
    with pytest.raises(asyncpg.RaiseError):
        async with db.transaction():
            await db.execute("UPDATE claim_appeal_notes SET body = 'changed'")


async def test_the_list_by_status_and_deadline(client, db, ops, provider, payer_id, as_ops):
    denials = [await deny(db, ops, provider, payer_id, control=n) for n in (101, 102, 103)]
    soon = await _appeal(client, as_ops, denials[0].id, deadline="2026-12-20")
    later = await _appeal(client, as_ops, denials[1].id)
    latest = await _appeal(client, as_ops, denials[2].id, deadline="2027-09-01")
    assert (await _move(client, as_ops, later["id"], "submitted")).status_code == 200

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/appeals", params=params, headers=as_ops)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids() == [soon["id"], later["id"], latest["id"]]
    assert await ids(status="open") == [soon["id"], latest["id"]]
    assert await ids(status="submitted") == [later["id"]]
    assert await ids(due_before="2027-01-01") == [soon["id"]]
    first = await client.get("/appeals", params={"limit": 2}, headers=as_ops)
    cursor = first.json()["next_cursor"]
    assert await ids(limit=2, cursor=cursor) == [latest["id"]]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "", {"status": "appealed"}, "status"),
        ("PATCH", "", {}, "status"),
        ("PATCH", "", {"status": "submitted", "note": "a\x00b"}, "note"),
        ("POST", "/notes", {"note": ""}, "note"),
        ("POST", "/notes", {"note": "x" * 2001}, "note"),
        ("GET", "?status=nope", None, "status"),
        ("GET", "?due_before=2027-02-30", None, "due_before"),
    ],
)
async def test_bad_input_is_4xx_naming_the_field(
    client, db, ops, provider, payer_id, as_ops, method, path, body, field
):
    appeal = await _appeal(client, as_ops, (await deny(db, ops, provider, payer_id)).id)
    base = "/appeals" if method == "GET" else f"/appeals/{appeal['id']}"
    response = await client.request(method, base + path, json=body, headers=as_ops)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


async def test_an_unknown_appeal_is_404(client, as_ops):
    missing = uuid.uuid4()
    assert (await client.get(f"/appeals/{missing}", headers=as_ops)).status_code == 404
    assert (await _move(client, as_ops, missing, "submitted")).status_code == 404
    noted = await client.post(f"/appeals/{missing}/notes", json={"note": "n"}, headers=as_ops)
    assert noted.status_code == 404
