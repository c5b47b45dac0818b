"""/remittances/refusals: the 835s the clearinghouse served that the posting refused, listed for
ops with where each broke, and dismissed once with a note (audited; 409 the second time)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.core import clock as hearth_clock
from services.core.auth import Actor
from services.core.clock import Clock
from services.remittance.errors import Refused835
from services.remittance.ingest import broken_at, interchange_number
from services.remittance.queries.fetch import insert_refusal
from services.remittance.service import post_file_on
from services.remittance.x835 import X835Error
from tests.authz import ROLES, headers_for, refusal
from tests.bad_input import bad_note_bodies
from tests.factories import make_actor, make_ops
from tests.remittance import fixtures as f

pytestmark = pytest.mark.usefixtures("clock")
URL = "/remittances/refusals"


async def refuse(db: asyncpg.Connection, ops: Actor, control: int) -> uuid.UUID:
    """A truncated 835 refused by the posting and kept as the fetch worker keeps it."""
    text = f.interchange([f.transaction(f.PAID, trace=f"EFT{control}")], control=control)
    raw = text[: text.rindex("GE*")].encode()
    with pytest.raises(Refused835) as refused:
        await post_file_on(db, raw, "clearinghouse", ops)
    digest = hashlib.sha256(raw).hexdigest()
    isa13 = interchange_number(raw)
    where = broken_at(refused.value)
    error, now = refused.value.detail, hearth_clock.now()
    await insert_refusal(db, "HEARTHCH", isa13, digest, raw, error, now, where)
    found: uuid.UUID = await db.fetchval(
        "SELECT id FROM remittance_fetch_refusals WHERE sha256 = $1", digest
    )
    return found


@pytest.fixture
async def ops(db: asyncpg.Connection) -> Actor:
    return await make_ops(db)


async def test_ops_list_the_refused_files_with_where_each_broke(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, ops: Actor, clock: Clock
) -> None:
    first = await refuse(db, ops, 301)
    clock.advance(timedelta(minutes=5))
    second = await refuse(db, ops, 302)
    listed = await client.get(URL, headers=token(ops))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [str(first), str(second)]  # oldest first
    item = items[0]
    assert (item["isa13"], item["clearinghouse"], item["status"]) == ("000000301", "HEARTHCH",
                                                                      "open")  # fmt: skip
    # The file ends after its SE: the last segment read, and the reader's words for it.
    assert (item["segment"], item["position"]) == ("SE", 25)
    truncated = "the file is truncated: it ends before its SE, GE or IEA"
    assert item["error"] == f"SE (segment 25): {truncated}"
    assert item["byte_size"] > 0
    assert len(item["sha256"]) == 64
    assert item["resolved_at"] is None
    assert "raw" not in item  # the file itself is not listed
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'remittance_refusal' AND action = 'read'"
    )
    assert audited == 2


async def test_refusals_page(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, ops: Actor, clock: Clock
) -> None:
    ids = []
    for control in (311, 312, 313):
        ids.append(str(await refuse(db, ops, control)))
        clock.advance(timedelta(seconds=1))
    page = (await client.get(URL, params={"limit": 2}, headers=token(ops))).json()
    assert [i["id"] for i in page["items"]] == ids[:2]
    rest = await client.get(
        URL, params={"limit": 2, "cursor": page["next_cursor"]}, headers=token(ops)
    )
    assert [i["id"] for i in rest.json()["items"]] == ids[2:]
    assert rest.json()["next_cursor"] is None


async def test_ops_resolve_a_refusal_once(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, ops: Actor, clock: Clock
) -> None:
    settled = await refuse(db, ops, 321)
    clock.advance(timedelta(seconds=1))
    still_open = await refuse(db, ops, 322)
    note = {"note": "the payer resent it whole; uploaded through POST /remittances"}
    done = await client.post(f"{URL}/{settled}/resolve", json=note, headers=token(ops))
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["id"], body["status"], body["resolution_note"]) == (
        str(settled), "resolved", note["note"],
    )  # fmt: skip
    assert body["resolved_by"] == str(ops.user_id)
    assert body["resolved_at"] == clock.now().isoformat().replace("+00:00", "Z")
    again = await client.post(f"{URL}/{settled}/resolve", json={"note": "x"}, headers=token(ops))
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "remittance_refusal_resolved"
    row = await db.fetchrow(
        "SELECT resolution_note, resolved_by FROM remittance_fetch_refusals WHERE id = $1", settled
    )
    assert (row["resolution_note"], row["resolved_by"]) == (note["note"], ops.user_id)
    updates = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'remittance_refusal'"
        " AND action = 'update' AND entity_id = $1",
        settled,
    )
    assert updates == 1
    by_status = {}
    for status in ("open", "resolved", "all"):
        listed = await client.get(URL, params={"status": status}, headers=token(ops))
        by_status[status] = [i["id"] for i in listed.json()["items"]]
    assert by_status == {
        "open": [str(still_open)],
        "resolved": [str(settled)],
        "all": [str(settled), str(still_open)],
    }


async def test_an_unknown_refusal_is_not_found(
    client: httpx.AsyncClient, token: Any, ops: Actor
) -> None:
    missing = await client.post(f"{URL}/{uuid.uuid4()}/resolve", json={"note": "x"},
                                headers=token(ops))  # fmt: skip
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "remittance_refusal_not_found"


@pytest.mark.parametrize(("body", "field"), bad_note_bodies())
async def test_a_bad_resolution_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    token: Any,
    ops: Actor,
    body: dict[str, Any],
    field: str,
) -> None:
    refusal_id = await refuse(db, ops, 331)
    response = await client.post(f"{URL}/{refusal_id}/resolve", json=body, headers=token(ops))
    assert response.status_code == 400, response.text
    assert field in str(response.json().get("errors", response.json()))
    assert await db.fetchval(
        "SELECT resolved_at IS NULL FROM remittance_fetch_refusals WHERE id = $1", refusal_id
    )


@pytest.mark.parametrize(
    "params",
    [{"status": "closed"}, {"limit": 0}, {"limit": 201}, {"cursor": "bm90LW91cnM"}, {"x": "1"}],
)
async def test_bad_list_parameters_are_refused(
    client: httpx.AsyncClient, token: Any, ops: Actor, params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params, headers=token(ops))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", ROLES)
async def test_refusals_are_ops_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, role: str
) -> None:
    refusal_id = await refuse(db, await make_ops(db), 341)
    actor = None if role == "none" else await make_actor(db, role)
    headers = headers_for(token, actor)
    listed = await client.get(URL, headers=headers)
    resolved = await client.post(f"{URL}/{refusal_id}/resolve", json={"note": "x"},
                                 headers=headers)  # fmt: skip
    expected = refusal(role, ("ops",))
    assert listed.status_code == (expected or 200), listed.text
    assert resolved.status_code == (expected or 200), resolved.text
    if expected:
        assert await db.fetchval(
            "SELECT resolved_at IS NULL FROM remittance_fetch_refusals WHERE id = $1", refusal_id
        )


@pytest.mark.parametrize(
    ("cause", "where"),
    [
        (X835Error("is not a number", "CLP", 57), ("CLP", 57)),
        (X835Error("unknown segment", "cl*p", 9), (None, 9)),  # junk is not kept as an id
        (X835Error("is not X12", "", 0), None),
        (ValueError("the body is not text"), None),
    ],
)
def test_where_a_refused_file_broke(cause: Exception, where: tuple[str | None, int] | None) -> None:
    refused = Refused835("refused", field="body")
    refused.__cause__ = cause
    assert broken_at(refused) == where
