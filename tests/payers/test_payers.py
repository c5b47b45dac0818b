"""Payers: create, update, list, get, and every refused field named."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payers import PayerPatch
from services.core.auth import Actor
from services.core.errors import Conflict, NotFound
from services.payers import service
from tests.factories import make_payer, payer_in

GOOD = {
    "name": "Blue Plan of Somewhere",
    "x12_payer_id": "bp123",
    "timely_filing_days": 180,
    "telehealth_modifier": "95",
    "prior_auth_cpt_codes": ["90837", "H0031", "90837", "0591T"],
}


async def test_create_returns_the_payer_normalized(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    response = await client.post("/payers", json=GOOD, headers=token(ops))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Blue Plan of Somewhere"
    assert body["x12_payer_id"] == "BP123"  # stored upper-case
    assert body["timely_filing_days"] == 180
    assert body["telehealth_modifier"] == "95"
    assert body["prior_auth_cpt_codes"] == ["0591T", "90837", "H0031"]  # deduplicated
    row = await db.fetchrow("SELECT * FROM payers WHERE id = $1", uuid.UUID(body["id"]))
    assert row["x12_payer_id"] == "BP123"
    assert row["prior_auth_cpt_codes"] == ["0591T", "90837", "H0031"]


async def test_claim_filing_indicator_defaults_to_commercial_and_can_change(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    created = await client.post("/payers", json=GOOD, headers=token(ops))
    assert created.json()["claim_filing_indicator"] == "CI"
    payer_id = created.json()["id"]
    patched = await client.patch(
        f"/payers/{payer_id}", json={"claim_filing_indicator": "BL"}, headers=token(ops)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["claim_filing_indicator"] == "BL"
    stored = "SELECT claim_filing_indicator FROM payers WHERE id = $1"
    assert await db.fetchval(stored, uuid.UUID(payer_id)) == "BL"


async def test_telehealth_modifier_may_be_null(
    client: httpx.AsyncClient, ops: Actor, token: Any
) -> None:
    body = {**GOOD, "telehealth_modifier": None}
    response = await client.post("/payers", json=body, headers=token(ops))
    assert response.status_code == 201
    assert response.json()["telehealth_modifier"] is None


async def test_duplicate_x12_payer_id_is_409_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    assert (await client.post("/payers", json=GOOD, headers=token(ops))).status_code == 201
    again = await client.post(
        "/payers", json={**GOOD, "x12_payer_id": "BP123", "name": "Other"}, headers=token(ops)
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "x12_payer_id_taken"
    assert again.json()["errors"] == [
        {"field": "x12_payer_id", "message": "a payer with X12 payer id BP123 already exists"}
    ]
    assert await db.fetchval("SELECT count(*) FROM payers WHERE x12_payer_id = 'BP123'") == 1


BAD_FIELDS = [
    ("name", ""),
    ("name", "x" * 101),
    ("name", 12),
    ("x12_payer_id", "A"),
    ("x12_payer_id", "AB-12"),
    ("x12_payer_id", "AB 12"),
    ("x12_payer_id", "A" * 81),
    ("timely_filing_days", 0),
    ("timely_filing_days", 3651),
    ("timely_filing_days", -5),
    ("timely_filing_days", 10**30),
    ("timely_filing_days", 90.5),
    ("telehealth_modifier", "GQ"),
    ("telehealth_modifier", 95),
    ("telehealth_modifier", ""),
    ("claim_filing_indicator", "XX"),
    ("claim_filing_indicator", "ci"),
    ("claim_filing_indicator", None),
    ("prior_auth_cpt_codes", ["9083"]),
    ("prior_auth_cpt_codes", ["908377"]),
    ("prior_auth_cpt_codes", ["90837", "h0031"]),
    ("prior_auth_cpt_codes", ["AB123"]),
    ("prior_auth_cpt_codes", ["90 37"]),
    ("prior_auth_cpt_codes", [90837]),
    ("prior_auth_cpt_codes", "90837"),
    ("prior_auth_cpt_codes", ["90837"] * 501),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
async def test_bad_field_is_400_naming_it_and_nothing_is_written(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    token: Any,
    field: str,
    value: Any,
) -> None:
    before = await db.fetchval("SELECT count(*) FROM payers")
    response = await client.post("/payers", json={**GOOD, field: value}, headers=token(ops))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"].split("[")[0] == field
    assert await db.fetchval("SELECT count(*) FROM payers") == before


async def test_category_iii_and_hcpcs_codes_are_accepted(
    client: httpx.AsyncClient, ops: Actor, token: Any
) -> None:
    body = {**GOOD, "prior_auth_cpt_codes": ["0591T", "G2012", "9083F", "90791"]}
    response = await client.post("/payers", json=body, headers=token(ops))
    assert response.status_code == 201, response.text


async def test_unknown_field_and_missing_field_are_refused(
    client: httpx.AsyncClient, ops: Actor, token: Any
) -> None:
    extra = await client.post("/payers", json={**GOOD, "rate": 1}, headers=token(ops))
    assert extra.status_code == 400
    assert "rate" in extra.text
    missing = {k: v for k, v in GOOD.items() if k != "timely_filing_days"}
    absent = await client.post("/payers", json=missing, headers=token(ops))
    assert absent.status_code == 400
    assert "timely_filing_days" in absent.text


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    payer = await make_payer(db, name="Before", telehealth_modifier="GT")
    response = await client.patch(
        f"/payers/{payer.id}",
        json={"timely_filing_days": 365, "prior_auth_cpt_codes": ["90837", "90837"]},
        headers=token(ops),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Before"
    assert body["telehealth_modifier"] == "GT"
    assert body["timely_filing_days"] == 365
    assert body["prior_auth_cpt_codes"] == ["90837"]
    assert body["x12_payer_id"] == payer.x12_payer_id
    row = await db.fetchrow("SELECT * FROM payers WHERE id = $1", payer.id)
    assert row["timely_filing_days"] == 365
    assert row["updated_at"] >= row["created_at"]


async def test_patch_null_clears_the_telehealth_modifier(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    payer = await make_payer(db, telehealth_modifier="95")
    response = await client.patch(
        f"/payers/{payer.id}", json={"telehealth_modifier": None}, headers=token(ops)
    )
    assert response.status_code == 200
    assert response.json()["telehealth_modifier"] is None
    stored = await db.fetchval("SELECT telehealth_modifier FROM payers WHERE id = $1", payer.id)
    assert stored is None


async def test_patch_to_a_taken_x12_payer_id_is_409_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    first = await make_payer(db)
    second = await make_payer(db, name="Second")
    response = await client.patch(
        f"/payers/{second.id}",
        json={"x12_payer_id": first.x12_payer_id.lower(), "name": "Renamed"},
        headers=token(ops),
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "x12_payer_id"
    row = await db.fetchrow("SELECT name, x12_payer_id FROM payers WHERE id = $1", second.id)
    assert (row["name"], row["x12_payer_id"]) == ("Second", second.x12_payer_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [("timely_filing_days", 0), ("telehealth_modifier", "XX"), ("name", None), ("id", "x")],
)
async def test_patch_bad_field_is_400_naming_it(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    token: Any,
    field: str,
    value: Any,
) -> None:
    payer = await make_payer(db)
    response = await client.patch(f"/payers/{payer.id}", json={field: value}, headers=token(ops))
    assert response.status_code == 400
    assert field in response.text
    assert await service.get_payer(db, payer.id) == payer


async def test_patch_unknown_payer_is_404(
    client: httpx.AsyncClient, ops: Actor, token: Any
) -> None:
    response = await client.patch(f"/payers/{uuid.uuid4()}", json={"name": "x"}, headers=token(ops))
    assert response.status_code == 404


async def test_empty_patch_changes_nothing(db: asyncpg.Connection) -> None:
    payer = await make_payer(db)
    assert await service.update_payer(db, payer.id, PayerPatch()) == payer


async def test_service_refuses_a_duplicate_and_an_unknown_payer(db: asyncpg.Connection) -> None:
    payer = await make_payer(db)
    with pytest.raises(Conflict) as info:
        await service.create_payer(db, payer_in(x12_payer_id=payer.x12_payer_id))
    assert info.value.field == "x12_payer_id"
    with pytest.raises(NotFound):
        await service.get_payer(db, uuid.uuid4())


async def test_list_filters_by_name_and_pages(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [await make_payer(db, name=f"Zeta {tag} {i}") for i in range(5)]
    await make_payer(db, name="Unrelated")
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params: dict[str, Any] = {"q": tag.upper(), "limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/payers", params=params, headers=token(ops))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # One transaction: every created_at is the same instant, so the id orders the pages.
    assert seen == sorted(str(p.id) for p in made)


async def test_name_filter_is_literal_not_a_pattern(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    await make_payer(db, name="Plain Payer")
    response = await client.get("/payers", params={"q": "%"}, headers=token(ops))
    assert response.status_code == 200
    assert all("%" in p["name"] for p in response.json()["items"])


async def test_get_returns_the_payer(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    payer = await make_payer(db, prior_auth_cpt_codes=["90837"])
    response = await client.get(f"/payers/{payer.id}", headers=token(ops))
    assert response.status_code == 200
    assert response.json()["id"] == str(payer.id)
    assert response.json()["prior_auth_cpt_codes"] == ["90837"]
