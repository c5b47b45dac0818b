"""Provider onboarding, profile edits, licences, locations and self-pay rates over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.exceptions import InvalidTag

from services.core.auth import Actor
from services.core.crypto import Keyring
from services.core.settings import Settings, parse_keyring
from services.providers import tax_ids
from services.providers.service import reveal_tax_id
from tests.factories import TAX_ID, make_ops, make_provider, provider_body, valid_npi

TAX_DIGITS = TAX_ID.replace("-", "")
OTHER_KEY = "k9:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes, not ours


def _no_tax_id(response: httpx.Response) -> None:
    for form in (TAX_ID, TAX_DIGITS, "123-45-6789", "123456789"):
        assert form not in response.text


async def _onboard(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> httpx.Response:
    return await client.post("/providers", json=provider_body(**overrides), headers=headers)


async def test_onboarding_creates_user_profile_and_a_working_invitation(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    body = provider_body(
        licences=[
            {"state": "NY", "licence_type": "LCSW", "number": "A-1", "expires_on": "2031-01-31"}
        ],
        locations=[{"name": "Home telehealth", "place_of_service": "10"}],
    )
    response = await client.post("/providers", json=body, headers=token(ops))
    assert response.status_code == 201, response.text
    out = response.json()
    provider = out["provider"]
    assert provider["npi"] == body["npi"]
    assert provider["email"] == body["email"]
    assert provider["tax_id_last4"] == "4321"
    assert "tax_id" not in provider
    assert "tax_id_encrypted" not in provider
    assert [lic["number"] for lic in out["licences"]] == ["A-1"]
    assert out["locations"][0]["place_of_service"] == "10"
    _no_tax_id(response)
    user = await db.fetchrow(
        "SELECT role, password_hash FROM users WHERE id = $1", provider["user_id"]
    )
    assert user["role"] == "provider"
    assert user["password_hash"] is None

    accepted = await client.post(
        "/auth/invites/accept",
        json={"token": out["invite_token"], "password": "a long enough password"},
    )
    assert accepted.status_code == 200, accepted.text
    bearer = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
    me = await client.get("/providers/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["id"] == provider["id"]


async def test_tax_id_is_stored_encrypted_and_opens_only_with_the_key(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    created = await _onboard(client, token(ops), tax_id="123-45-6789")
    assert created.status_code == 201
    provider_id = created.json()["provider"]["id"]
    row = await db.fetchrow(
        "SELECT tax_id_encrypted, tax_id_key_id, tax_id_last4 FROM providers WHERE id = $1",
        provider_id,
    )
    assert b"123456789" not in row["tax_id_encrypted"]
    assert row["tax_id_last4"] == "6789"
    assert await reveal_tax_id(db, settings, provider_id) == "123456789"
    keyring = Keyring(settings.tax_id_keyring())
    with pytest.raises(InvalidTag):
        keyring.decrypt(row["tax_id_key_id"], row["tax_id_encrypted"], b"clients.other")
    stranger = Keyring({row["tax_id_key_id"]: parse_keyring(OTHER_KEY)["k9"]})
    with pytest.raises(InvalidTag):
        stranger.decrypt(
            row["tax_id_key_id"],
            row["tax_id_encrypted"],
            tax_ids.context(uuid.UUID(provider_id), tax_ids.SCHEME_BOUND),
        )
    for path in (f"/providers/{provider_id}", "/providers"):
        _no_tax_id(await client.get(path, headers=token(ops)))
    patched = await client.patch(
        f"/providers/{provider_id}", json={"tax_id": "11-2223333"}, headers=token(ops)
    )
    assert patched.status_code == 200
    assert patched.json()["tax_id_last4"] == "3333"
    assert "112223333" not in patched.text
    assert "11-2223333" not in patched.text
    assert await reveal_tax_id(db, settings, provider_id) == "112223333"


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"npi": "1234567890"}, 422, "npi"),  # wrong check digit
        ({"npi": "12345"}, 400, "npi"),
        ({"npi": "123456789A"}, 400, "npi"),
        ({"taxonomy_code": "101YM08000"}, 400, "taxonomy_code"),
        ({"taxonomy_code": "101YM0800"}, 400, "taxonomy_code"),
        ({"tax_id": "1-23456789"}, 422, "tax_id"),
        ({"tax_id": "000000000"}, 422, "tax_id"),
        ({"tax_id": "12345678901234"}, 400, "tax_id"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"first_name": "A\x00da"}, 422, "first_name"),  # outside the X12 sets
        ({"first_name": ""}, 400, "first_name"),
        ({"role": "ops"}, 400, "role"),
        ({"npi": 1234567893}, 400, "npi"),
        ({"licences": [{"state": "ZZ", "licence_type": "LCSW", "number": "1",
                        "expires_on": "2031-01-01"}]}, 400, "licences[0].state"),
        ({"licences": [{"state": "NY", "licence_type": "LCSW", "number": "1",
                        "expires_on": "2020-01-01"}]}, 422, "licences[0].expires_on"),
        ({"licences": [{"state": "NY", "licence_type": "LCSW", "number": "1",
                        "expires_on": "2031-02-30"}]}, 400, "licences[0].expires_on"),
        ({"locations": [{"name": "Office", "place_of_service": "11"}]}, 422,
         "locations[0].address"),
    ],
)  # fmt: skip
async def test_bad_onboarding_input_is_a_4xx_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    token: Any,
    overrides: dict[str, Any],
    status: int,
    field: str,
) -> None:
    ops = await make_ops(db)
    users_before = await db.fetchval("SELECT count(*) FROM users")
    response = await _onboard(client, token(ops), **overrides)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    # An unknown field is reported on the body ("data") with its name in the message.
    errors = response.json()["errors"]
    assert any(field == e["field"] or f"`{field}`" in e["message"] for e in errors), errors
    assert await db.fetchval("SELECT count(*) FROM users") == users_before
    assert await db.fetchval("SELECT count(*) FROM providers") == 0


async def test_duplicate_npi_or_email_is_409_naming_the_field(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    first = provider_body()
    assert (await client.post("/providers", json=first, headers=token(ops))).status_code == 201
    same_npi = await _onboard(client, token(ops), npi=first["npi"])
    same_email = await _onboard(client, token(ops), email=first["email"].upper())
    assert (same_npi.status_code, same_npi.json()["errors"][0]["field"]) == (409, "npi")
    assert (same_email.status_code, same_email.json()["errors"][0]["field"]) == (409, "email")
    assert await db.fetchval("SELECT count(*) FROM providers") == 1
    assert await db.fetchval("SELECT count(*) FROM users WHERE role = 'provider'") == 1


async def test_provider_edits_names_and_taxonomy_but_not_npi_or_tax_id(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_provider(db, settings)
    path = f"/providers/{me.provider_id}"
    ok = await client.patch(
        path, json={"first_name": "Grace", "taxonomy_code": "103t00000x"}, headers=token(me)
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["first_name"], ok.json()["last_name"]) == ("Grace", "Lovelace")
    assert ok.json()["taxonomy_code"] == "103T00000X"
    for body in ({"npi": valid_npi()}, {"tax_id": "111-22-3333"}):
        refused = await client.patch(path, json=body, headers=token(me))
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["field"] == next(iter(body))
    row = await db.fetchrow(
        "SELECT first_name, tax_id_last4 FROM providers WHERE id = $1", me.provider_id
    )
    assert (row["first_name"], row["tax_id_last4"]) == ("Grace", "4321")


async def test_ops_change_npi_and_a_taken_npi_is_409(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    a = await make_provider(db, settings, ops)
    b = await make_provider(db, settings, ops)
    b_npi = await db.fetchval("SELECT npi FROM providers WHERE id = $1", b.provider_id)
    new_npi = valid_npi()
    path = f"/providers/{a.provider_id}"
    changed = await client.patch(path, json={"npi": new_npi}, headers=token(ops))
    assert (changed.status_code, changed.json()["npi"]) == (200, new_npi)
    taken = await client.patch(path, json={"npi": b_npi, "first_name": "X"}, headers=token(ops))
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["field"] == "npi"
    row = await db.fetchrow("SELECT npi, first_name FROM providers WHERE id = $1", a.provider_id)
    assert (row["npi"], row["first_name"]) == (new_npi, "Ada")


async def test_provider_list_pages_with_a_cursor(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    ids = [(await make_provider(db, settings, ops)).provider_id for _ in range(3)]
    first = (await client.get("/providers?limit=2", headers=token(ops))).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await client.get(
        "/providers", params={"limit": 2, "cursor": first["next_cursor"]}, headers=token(ops)
    )
    seen = [p["id"] for p in first["items"] + second.json()["items"]]
    # One transaction gives the three rows one created_at: the id breaks the tie.
    assert sorted(seen) == sorted(str(i) for i in ids)
    assert second.json()["next_cursor"] is None
    for bad in ("limit=0", "limit=201", "limit=abc", "cursor=%00%01", "cursor=bm90LWEta2V5"):
        response = await client.get(f"/providers?{bad}", headers=token(ops))
        assert response.status_code == 400, (bad, response.text)


async def test_licences_add_list_delete(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_provider(db, settings)
    base = f"/providers/{me.provider_id}/licences"
    licence = {
        "state": "CA",
        "licence_type": "LMFT",
        "number": "LMFT 12345",
        "expires_on": "2030-06-30",
    }
    created = await client.post(base, json=licence, headers=token(me))
    assert created.status_code == 201, created.text
    again = await client.post(base, json=licence, headers=token(me))
    assert (again.status_code, again.json()["errors"][0]["field"]) == (409, "number")
    for bad in ({**licence, "licence_type": "MD"}, {**licence, "expires_on": "yesterday"},
                {**licence, "number": "x" * 51}, {**licence, "extra": 1}):  # fmt: skip
        assert (await client.post(base, json=bad, headers=token(me))).status_code == 400
    listed = (await client.get(base, headers=token(me))).json()
    assert [item["id"] for item in listed["items"]] == [created.json()["id"]]
    gone = await client.delete(f"{base}/{created.json()['id']}", headers=token(me))
    assert gone.status_code == 204
    assert await db.fetchval("SELECT count(*) FROM provider_licences") == 0
    twice = await client.delete(f"{base}/{created.json()['id']}", headers=token(me))
    assert twice.status_code == 404


async def test_locations_need_a_street_address_for_an_office(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_provider(db, settings)
    base = f"/providers/{me.provider_id}/locations"
    address = {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "122071234"}
    office = await client.post(
        base,
        json={"name": "Office", "place_of_service": "11", "address": address},
        headers=token(me),
    )
    assert office.status_code == 201, office.text
    assert office.json()["address"]["zip"] == "122071234"
    no_address = await client.post(
        base, json={"name": "Office", "place_of_service": "11"}, headers=token(me)
    )
    assert (no_address.status_code, no_address.json()["errors"][0]["field"]) == (422, "address")
    po_box = await client.post(
        base,
        json={"name": "Office", "place_of_service": "11",
              "address": {**address, "line1": "P.O. Box 12"}},
        headers=token(me),
    )  # fmt: skip
    assert (po_box.status_code, po_box.json()["errors"][0]["field"]) == (422, "address.line1")
    bad_zip = {"name": "T", "place_of_service": "11", "address": {**address, "zip": "1220"}}
    for bad in ({"name": "T", "place_of_service": "12"}, {"name": "T", "place_of_service": 10},
                bad_zip):  # fmt: skip
        assert (await client.post(base, json=bad, headers=token(me))).status_code == 400

    tele = await client.post(
        base, json={"name": "Tele", "place_of_service": "02"}, headers=token(me)
    )
    tele_path = f"{base}/{tele.json()['id']}"
    to_office = await client.patch(tele_path, json={"place_of_service": "11"}, headers=token(me))
    assert (to_office.status_code, to_office.json()["errors"][0]["field"]) == (422, "address")
    renamed = await client.patch(
        tele_path,
        json={"name": "Video", "place_of_service": "11", "address": address},
        headers=token(me),
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["place_of_service"]) == ("Video", "11")
    office_path = f"{base}/{office.json()['id']}"
    cleared = await client.patch(office_path, json={"address": None}, headers=token(me))
    assert cleared.status_code == 422
    listed = (await client.get(base, headers=token(me))).json()["items"]
    assert [loc["name"] for loc in listed] == ["Office", "Video"]
    assert (await client.delete(office_path, headers=token(me))).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM provider_locations") == 1


async def test_self_pay_rates_upsert_per_cpt_code(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    me = await make_provider(db, settings)
    base = f"/providers/{me.provider_id}/self-pay-rates"
    first = await client.put(f"{base}/90837", json={"amount_cents": 18000}, headers=token(me))
    assert first.status_code == 200, first.text
    second = await client.put(f"{base}/90837", json={"amount_cents": 19500}, headers=token(me))
    assert second.json()["id"] == first.json()["id"]
    await client.put(f"{base}/90791", json={"amount_cents": 22000}, headers=token(me))
    listed = (await client.get(base, headers=token(me))).json()["items"]
    assert {r["cpt_code"]: r["amount_cents"] for r in listed} == {"90837": 19500, "90791": 22000}
    for cpt, body, status in [
        ("9083", {"amount_cents": 100}, 422),
        ("%00", {"amount_cents": 100}, 422),
        ("90834", {"amount_cents": 0}, 400),
        ("90834", {"amount_cents": -5}, 400),
        ("90834", {"amount_cents": 10**20}, 400),
        ("90834", {"amount_cents": 1.5}, 400),
        ("90834", {}, 400),
    ]:
        response = await client.put(f"{base}/{cpt}", json=body, headers=token(me))
        assert response.status_code == status, (cpt, body, response.text)
    assert await db.fetchval("SELECT count(*) FROM provider_self_pay_rates") == 2


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"email": null}', b"\x00", b'{"npi": 1e400}'],
)
async def test_garbage_bodies_are_400(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, raw: bytes
) -> None:
    ops = await make_ops(db)
    response = await client.post(
        "/providers", content=raw, headers={**token(ops), "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_provider_me_without_a_profile_is_404(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    user_id = await db.fetchval(
        "INSERT INTO users (email, role) VALUES ($1, 'provider') RETURNING id",
        f"no-profile-{uuid.uuid4().hex[:10]}@example.test",
    )
    ghost = Actor(user_id=user_id, role="provider")
    assert (await client.get("/providers/me", headers=token(ghost))).status_code == 404


async def test_a_refused_detail_rolls_the_whole_onboarding_back(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    licence = {"state": "NY", "licence_type": "LCSW", "number": "DUP", "expires_on": "2031-01-31"}
    response = await _onboard(client, token(ops), licences=[licence, licence])
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "licences[1].number"
    assert await db.fetchval("SELECT count(*) FROM users WHERE role = 'provider'") == 0
    assert await db.fetchval("SELECT count(*) FROM providers") == 0
    assert await db.fetchval("SELECT count(*) FROM provider_licences") == 0
    assert await db.fetchval("SELECT count(*) FROM user_invites") == 0
