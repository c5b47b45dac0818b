"""/remittances and /claims/{id}/remittance: upload, repeat, refusals, reads, who may see them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from tests.factories import make_client_actor, make_ops, make_payer, make_provider_actor
from tests.remittance import fixtures as f
from tests.remittance.billed import Billed, bill

pytestmark = pytest.mark.usefixtures("clock")
X12 = {"content-type": "application/edi-x12"}


@pytest.fixture
async def world(db: asyncpg.Connection) -> tuple[Actor, Actor, Billed]:
    ops, provider = await make_ops(db), await make_provider_actor(db)
    billed = await bill(db, (await make_payer(db)).id, provider)
    return ops, provider, billed


def _file(billed: Billed) -> bytes:
    body = f.transaction(f.PAID.replace("HC0000001A", billed.clm01).replace(
        "L0000001A1", billed.line_controls[0]))  # fmt: skip
    return f.interchange([body]).encode()


async def test_upload_posts_then_says_already_posted(
    client: httpx.AsyncClient, token: Any, world: tuple[Actor, Actor, Billed]
) -> None:
    ops, _, billed = world
    headers = {**token(ops), **X12}
    first = await client.post("/remittances", content=_file(billed), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "posted"
    again = await client.post("/remittances", content=_file(billed), headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "already_posted"
    assert again.json()["file"]["id"] == first.json()["file"]["id"]
    listed = await client.get("/remittances", headers=token(ops))
    assert [i["id"] for i in listed.json()["items"]] == [first.json()["file"]["id"]]
    detail = await client.get(f"/remittances/{first.json()['file']['id']}", headers=token(ops))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["totals"]["claims_matched"] == 1
    assert body["totals"]["paid_cents"] == 10000
    (claim,) = body["payments"][0]["claims"]
    assert claim["claim"]["claim_id"] == str(billed.claim_id)
    assert [(a["group"], a["code"]) for a in claim["adjustments"]] == [("CO", "45"), ("PR", "3")]


async def test_a_claims_remittance_for_its_provider_and_ops_only(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection,
    world: tuple[Actor, Actor, Billed],
) -> None:  # fmt: skip
    ops, provider, billed = world
    posted = await client.post("/remittances", content=_file(billed), headers={**token(ops), **X12})
    assert posted.status_code == 201
    path = f"/claims/{billed.claim_id}/remittance"
    for who in (ops, provider):
        seen = await client.get(path, headers=token(who))
        assert seen.status_code == 200, seen.text
        assert seen.json()["paid_cents"] == 10000
        assert seen.json()["patient_responsibility_cents"] == 2000
        (item,) = seen.json()["items"]
        assert [a["code"] for a in item["remitted"]["adjustments"]] == ["45", "3"]
    other = await client.get(path, headers=token(await make_provider_actor(db)))
    assert other.status_code == 404
    unknown = await client.get(f"/claims/{uuid.uuid4()}/remittance", headers=token(ops))
    assert unknown.status_code == 404
    client_role = await client.get(path, headers=token(await make_client_actor(db)))
    assert client_role.status_code == 403
    assert (await client.get(path)).status_code == 401
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'remitted_claim' AND action = 'read'"
    )
    assert audited >= 2


async def test_who_may_upload_and_read(
    client: httpx.AsyncClient, token: Any, world: tuple[Actor, Actor, Billed]
) -> None:
    _, provider, billed = world
    assert (
        await client.post("/remittances", content=_file(billed), headers=X12)
    ).status_code == 401
    as_provider = {**token(provider), **X12}
    assert (
        await client.post("/remittances", content=_file(billed), headers=as_provider)
    ).status_code == 403
    assert (await client.get("/remittances", headers=token(provider))).status_code == 403
    assert (
        await client.get(f"/remittances/{uuid.uuid4()}", headers=token(provider))
    ).status_code == 403


async def test_bad_bodies_are_refused_naming_them(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection,
    world: tuple[Actor, Actor, Billed],
) -> None:  # fmt: skip
    ops, _, billed = world
    headers = {**token(ops), **X12}
    json_body = await client.post(
        "/remittances", content=b"{}", headers={**token(ops), "content-type": "application/json"}
    )
    assert json_body.status_code == 400
    assert json_body.json()["errors"][0]["field"] == "content-type"
    for bad in (b"", b"hello", _file(billed)[:-40], b"\xff\xfe\x00junk", b"ISA*00*\x00"):
        refused = await client.post("/remittances", content=bad, headers=headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["field"] == "body"
    truncated = await client.post("/remittances", content=_file(billed)[:-40], headers=headers)
    assert "segment" in truncated.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM remittance_files") == 0
    missing = await client.get(f"/remittances/{uuid.uuid4()}", headers=token(ops))
    assert missing.status_code == 404


async def test_the_ops_queue_lists_what_ops_must_settle(
    client: httpx.AsyncClient, token: Any, world: tuple[Actor, Actor, Billed]
) -> None:
    ops, provider, billed = world
    unmatched = f.interchange([f.transaction(f.PAID, trace="EFT0077")], control=77).encode()
    for raw in (_file(billed), unmatched):
        posted = await client.post("/remittances", content=raw, headers={**token(ops), **X12})
        assert posted.status_code == 201, posted.text
    queue = await client.get("/remittances/queues/needs-ops", headers=token(ops))
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()["items"]
    assert (item["patient_control_number"], item["outcome"]) == ("HC0000001A", "unmatched")
    assert item["claim_id"] is None
    assert item["trace_number"] == "EFT0077"
    refused = await client.get("/remittances/queues/needs-ops", headers=token(provider))
    assert refused.status_code == 403
