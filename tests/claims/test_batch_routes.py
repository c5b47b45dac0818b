"""Ops' batch routes: the list, a batch with its files' metadata, a file's body, a claim's
versions pointing at them, and "submit now"; authorization and audit rows."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.claims.queries import batches
from services.core import clock
from services.core.clock import Clock
from tests.authz import ROLES, refusal
from tests.claims.world import ClaimWorld, make_claim_world
from tests.factories import make_claim, make_payer

pytestmark = pytest.mark.usefixtures("clock")

X837 = "X12_837_Request_005010X222A1"
X999 = "X12_999_Response_005010X231A1"
SENT_837 = "ISA*00*          *00*          *ZZ*HEARTH ...~"
GOT_999 = "ISA*00*          *00*          *ZZ*HEARTHCH ...~"


async def _batch(
    db: asyncpg.Connection, payer_id: uuid.UUID, claim_ids: list[uuid.UUID]
) -> tuple[uuid.UUID, list[int]]:
    """A sent batch of the claims' versions, its 837P and a 999 stored as submission does."""
    payload_id, isa13 = uuid.uuid4(), 1 + secrets.randbelow(999_999_998)
    batch_id = await batches.insert_batch(
        db, payer_id, payload_id, (isa13, isa13, "0001"), len(claim_ids), clock.now()
    )
    await batches.attach_to_batch(db, batch_id, claim_ids)
    now = clock.now()
    await batches.insert_batch_file(db, batch_id, "sent", X837, payload_id, SENT_837, now)
    await batches.update_batch_sent(db, batch_id, now)
    await batches.insert_batch_file(db, batch_id, "received", X999, payload_id, GOT_999, now)
    rows = await db.fetch(
        "SELECT id FROM claim_batch_files WHERE batch_id = $1 ORDER BY id", batch_id
    )
    return batch_id, [row["id"] for row in rows]


async def _audit(db: asyncpg.Connection, user_id: uuid.UUID | None) -> list[tuple[str, str, Any]]:
    rows = await db.fetch(
        "SELECT action, entity, entity_id FROM audit_events WHERE actor_user_id = $1 ORDER BY id",
        user_id,
    )
    return [(r["action"], r["entity"], r["entity_id"]) for r in rows]


async def test_ops_list_batches_newest_first_by_payer_and_status(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock
) -> None:
    w = await make_claim_world(db)
    first, _ = await _batch(db, w.payer.id, [w.claims[0]])
    clock.advance(timedelta(minutes=15))
    second, _ = await _batch(db, w.payer.id, [w.claims[1]])
    other = await make_payer(db)
    clock.advance(timedelta(minutes=15))
    third, _ = await _batch(db, other.id, [await make_claim(db, other.id)])
    ops = token(w.ops)

    every = await client.get("/claim-batches", params={"limit": 2}, headers=ops)
    assert every.status_code == 200, every.text
    page = every.json()
    assert [b["id"] for b in page["items"]] == [str(third), str(second)]
    rest = await client.get("/claim-batches", params={"cursor": page["next_cursor"]}, headers=ops)
    assert [b["id"] for b in rest.json()["items"]] == [str(first)]
    assert rest.json()["next_cursor"] is None

    mine = await client.get("/claim-batches", params={"payer_id": str(w.payer.id)}, headers=ops)
    items = mine.json()["items"]
    assert [b["id"] for b in items] == [str(second), str(first)]
    assert items[0]["status"] == "sent"
    assert items[0]["claim_count"] == 1
    assert items[0]["sent_at"] is not None
    assert items[0]["results_applied_at"] is None
    pending = await client.get("/claim-batches", params={"status": "pending"}, headers=ops)
    assert pending.json()["items"] == []
    bad = await client.get("/claim-batches", params={"status": "lost"}, headers=ops)
    assert bad.status_code == 400
    audited = [(a, e, i) for a, e, i in await _audit(db, w.ops.user_id) if e == "claim_batch"]
    assert audited == [("read", "claim_batch", b) for b in (third, second, first, second, first)]


async def test_a_batch_shows_its_claims_and_files_without_bodies_then_a_body(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    batch_id, (sent, received) = await _batch(db, w.payer.id, list(w.claims))
    ops = token(w.ops)

    detail = await client.get(f"/claim-batches/{batch_id}", headers=ops)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["batch"]["id"] == str(batch_id)
    assert sorted(body["claim_ids"]) == sorted(str(c) for c in w.claims)
    assert [(f["id"], f["direction"], f["payload_type"]) for f in body["files"]] == [
        (sent, "sent", X837),
        (received, "received", X999),
    ]
    assert body["files"][0]["size_bytes"] == len(SENT_837)
    assert "ISA*" not in detail.text
    assert await _audit(db, w.ops.user_id) == [("read", "claim_batch", batch_id)]

    raw = await client.get(f"/claim-batches/{batch_id}/files/{sent}", headers=ops)
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.text == SENT_837
    audited = (await _audit(db, w.ops.user_id))[1:]
    assert audited[0] == ("read_x12", "claim_batch", batch_id)
    assert sorted(audited[1:]) == sorted(("read_x12", "claim", c) for c in w.claims)

    # A file is found only under its own batch; an id past BIGINT is refused, never a 500.
    other, (other_file, _) = await _batch(db, w.payer.id, [await make_claim(db, w.payer.id)])
    for path in (
        f"/claim-batches/{batch_id}/files/{other_file}",
        f"/claim-batches/{other}/files/{sent}",
        f"/claim-batches/{uuid.uuid4()}/files/{sent}",
        f"/claim-batches/{uuid.uuid4()}",
    ):
        missing = await client.get(path, headers=ops)
        assert missing.status_code == 404, path
        assert missing.json()["code"] == "claim_batch_not_found"
    huge = await client.get(f"/claim-batches/{batch_id}/files/{2**63}", headers=ops)
    assert huge.status_code == 400


async def test_a_claims_versions_name_their_batch_files_and_acknowledgements(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    w = await make_claim_world(db)
    unsent = await client.get(f"/claims/{w.claims[1]}/versions", headers=token(w.ops))
    [version] = unsent.json()
    assert (version["batch_id"], version["file_ids"], version["ack_codes"]) == (None, [], [])
    batch_id, files = await _batch(db, w.payer.id, [w.claims[0]])
    submission = await db.fetchval(
        "SELECT id FROM claim_submissions WHERE claim_id = $1", w.claims[0]
    )
    await batches.update_submission_ack(
        db, submission, ["IK5:A", "A2:20"], "EVGRN12345678", clock.today()
    )
    sent = await client.get(f"/claims/{w.claims[0]}/versions", headers=token(w.ops))
    assert sent.status_code == 200, sent.text
    [version] = sent.json()
    assert version["batch_id"] == str(batch_id)
    assert version["file_ids"] == files
    assert version["ack_codes"] == ["IK5:A", "A2:20"]
    assert version["payer_claim_number"] == "EVGRN12345678"
    assert version["accepted_on"] == clock.today().isoformat()


async def test_submit_now_queues_each_payer_past_the_hold_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, clock: Clock
) -> None:
    w = await make_claim_world(db)
    ops = token(w.ops)
    held = await client.post("/claims/submissions", headers=ops)
    assert held.status_code == 202, held.text
    assert held.json() == {"payers_queued": 0}  # ready, but within the hold (24 h in tests)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE job = 'submit_claims'") == 0

    clock.advance(timedelta(hours=25))
    queued = await client.post("/claims/submissions", headers=ops)
    assert queued.status_code == 202, queued.text
    assert queued.json() == {"payers_queued": 1}
    payload = await db.fetchval("SELECT payload FROM outbox WHERE job = 'submit_claims'")
    assert payload["payer_id"] == str(w.payer.id)
    again = await client.post("/claims/submissions", headers=ops)
    assert again.json() == {"payers_queued": 0}  # the payer's submission is queued already
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE job = 'submit_claims'") == 1


async def _paths(db: asyncpg.Connection, w: ClaimWorld) -> dict[str, tuple[str, str]]:
    batch_id, (file_id, _) = await _batch(db, w.payer.id, [w.claims[0]])
    return {
        "list": ("GET", "/claim-batches"),
        "get": ("GET", f"/claim-batches/{batch_id}"),
        "file": ("GET", f"/claim-batches/{batch_id}/files/{file_id}"),
        "submit": ("POST", "/claims/submissions"),
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ["list", "get", "file", "submit"])
async def test_batch_routes_are_for_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, route: str, role: str
) -> None:
    w = await make_claim_world(db)
    method, path = (await _paths(db, w))[route]
    actor = w.actor(role)
    headers = {} if actor is None else token(actor)
    response = await client.request(method, path, headers=headers)
    expected = refusal(role, ("ops",)) or (202 if route == "submit" else 200)
    assert response.status_code == expected, response.text
    if response.status_code >= 400:
        assert "ISA*" not in response.text
        assert await db.fetchval("SELECT count(*) FROM audit_events WHERE action LIKE 'read%'") == 0
