"""/true-ups over HTTP: who sees which, ops' confirm and refuse (409 out of review, replayed
with an Idempotency-Key), and the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.app import create_app
from services.core.auth import Actor
from services.core.settings import Settings
from tests.authz import guarded_routes, headers_for
from tests.factories import make_actor, make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import Billed, bill

pytestmark = pytest.mark.usefixtures("clock")
NOTE = {"note": "checked with the payer"}


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


async def _billed(db: asyncpg.Connection) -> Billed:
    payer = await make_payer(db)
    return await bill(db, payer.id, await make_provider_actor(db))


async def _client_of(db: asyncpg.Connection, billed: Billed) -> Actor:
    user_id = await db.fetchval("SELECT user_id FROM clients WHERE id = $1", billed.client_id)
    return Actor(user_id=user_id, role="client", client_id=billed.client_id)


async def _in_review(db: asyncpg.Connection, ops: Actor, trace: str = "EFT0001") -> Any:
    """A claim whose true-up waits for ops (PR-27), its true-up's id and its client."""
    billed = await _billed(db)
    body = f.transaction(t.ours(t.OTHER_PR, billed, "8"), paid="70", trace=trace)
    await t.post(db, ops, body, control=int(trace[-4:]))
    (row,) = await t.true_ups(db, billed)
    return row["id"], await _client_of(db, billed)


async def test_ops_list_by_status_and_page(client: httpx.AsyncClient, db, ops, token):
    first, _ = await _in_review(db, ops, "EFT0001")
    second, _ = await _in_review(db, ops, "EFT0002")
    seen, cursor = [], None
    while True:
        params = {"status": "ops_review", "limit": "1", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/true-ups", params=params, headers=token(ops))
        assert response.status_code == 200, response.text
        seen += [item["id"] for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    # One a page, each once (the frozen clock stamps both alike: the id orders them).
    assert sorted(seen) == sorted([str(first), str(second)])
    ready = await client.get("/true-ups", params={"status": "ready"}, headers=token(ops))
    assert ready.json()["items"] == []
    bad = await client.get("/true-ups", params={"status": "paid"}, headers=token(ops))
    assert bad.status_code == 400
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'client_true_up' AND action = 'read'"
        " AND entity_id = ANY($1::uuid[])",
        [first, second],
    )
    assert audited == 2


async def test_confirm_is_replayed_with_its_key_and_refused_without(
    client: httpx.AsyncClient, db, ops, token
):
    true_up_id, _ = await _in_review(db, ops)
    headers = {**token(ops), "Idempotency-Key": "confirm-1"}
    url = f"/true-ups/{true_up_id}/confirm"
    first = await client.post(url, json=NOTE, headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["decision"]) == ("ready", "confirmed")
    replay = await client.post(url, json=NOTE, headers=headers)
    assert (replay.status_code, replay.json()) == (200, first.json())
    again = await client.post(url, json=NOTE, headers=token(ops))
    assert again.status_code == 409
    assert again.json()["code"] == "true_up_not_in_review"
    refuse = await client.post(f"/true-ups/{true_up_id}/refuse", json=NOTE, headers=token(ops))
    assert refuse.status_code == 409
    assert len(await t.settle_rows(db)) == 1
    updates = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'client_true_up' AND action = 'update'"
        " AND entity_id = $1",
        true_up_id,
    )
    assert updates == 1


async def test_refuse_over_http_and_a_note_is_required(client: httpx.AsyncClient, db, ops, token):
    true_up_id, owner = await _in_review(db, ops)
    url = f"/true-ups/{true_up_id}/refuse"
    empty = await client.post(url, json={}, headers=token(ops))
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["field"] == "note"
    response = await client.post(url, json=NOTE, headers=token(ops))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["carried_cents"], body["decision_note"]) == (
        "closed", 3000, NOTE["note"],
    )  # fmt: skip
    # The client reads the figures and the reason, not ops' note.
    own = await client.get(f"/true-ups/{true_up_id}", headers=token(owner))
    assert own.status_code == 200
    assert (own.json()["carried_cents"], own.json()["decision_note"]) == (3000, None)


async def test_a_client_reads_only_their_own(client: httpx.AsyncClient, db, ops, token):
    mine, owner = await _in_review(db, ops, "EFT0001")
    theirs, _ = await _in_review(db, ops, "EFT0002")
    assert (await client.get(f"/true-ups/{mine}", headers=token(owner))).status_code == 200
    assert (await client.get(f"/true-ups/{theirs}", headers=token(owner))).status_code == 404
    reads = await db.fetch(
        "SELECT entity_id FROM audit_events WHERE entity = 'client_true_up' AND action = 'read'"
        " AND actor_user_id = $1",
        owner.user_id,
    )
    assert [r["entity_id"] for r in reads] == [mine]


@pytest.fixture
async def world(db: asyncpg.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """(a true-up in ops_review, its claim's client id)."""
    ops = await make_ops(db)
    true_up_id, owner = await _in_review(db, ops)
    assert owner.client_id is not None
    return true_up_id, owner.client_id


ROUTES = {
    "list": ("GET", "/true-ups", {"ops"}, 200),
    "get": ("GET", "/true-ups/{id}", {"ops", "client"}, 200),
    "confirm": ("POST", "/true-ups/{id}/confirm", {"ops"}, 200),
    "refuse": ("POST", "/true-ups/{id}/refuse", {"ops"}, 200),
    "accuracy": ("GET", "/remittances/estimate-accuracy", {"ops"}, 200),
}


@pytest.mark.parametrize("obj", ["own", "foreign", "unknown"])
@pytest.mark.parametrize("role", ["none", "provider", "client", "ops"])
@pytest.mark.parametrize("route", list(ROUTES))
async def test_authorization_matrix(
    client: httpx.AsyncClient, db, token, world, route: str, role: str, obj: str
) -> None:
    method, template, allowed, success = ROUTES[route]
    true_up_id, client_id = world
    actor = None if role == "none" else await make_actor(db, role)
    if actor is not None and role == "client" and obj == "own":
        # The claim's own client (a foreign client is any other).
        user_id = await db.fetchval("SELECT user_id FROM clients WHERE id = $1", client_id)
        actor = Actor(user_id=user_id, role="client", client_id=client_id)
    target = uuid.uuid4() if obj == "unknown" else true_up_id
    url = template.replace("{id}", str(target))
    response = await client.request(
        method, url, json=NOTE if method == "POST" else None, headers=headers_for(token, actor)
    )
    if role == "none":
        expected = 401
    elif role not in allowed:
        expected = 403
    elif "{id}" in template and (obj == "unknown" or (obj == "foreign" and role != "ops")):
        expected = 404
    else:
        expected = success
    assert response.status_code == expected, (route, role, obj, response.text)


def test_every_true_up_route_is_in_the_matrix(settings: Settings) -> None:
    app = create_app(settings)
    seen = guarded_routes(app, "/true-ups") | guarded_routes(app, "/remittances/estimate")
    assert {(m, p.replace("{true_up_id:uuid}", "{id}"), roles) for m, p, roles in seen} == {
        (method, template, frozenset(allowed)) for method, template, allowed, _ in ROUTES.values()
    }
