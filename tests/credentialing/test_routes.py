"""Credentialing over HTTP: open, transition, read with history, list and filter."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from services.credentialing.service import run_expiry
from tests.factories import make_ops, make_payer, make_provider


async def _open(
    client: httpx.AsyncClient, headers: dict[str, str], provider_id: Any, payer_id: Any
) -> httpx.Response:
    return await client.post(
        "/credentialing",
        json={"provider_id": str(provider_id), "payer_id": str(payer_id)},
        headers=headers,
    )


async def _move(
    client: httpx.AsyncClient, headers: dict[str, str], record_id: str, to: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/credentialing/{record_id}/transitions",
        json={"to_status": to, "reason": f"to {to}", **extra},
        headers=headers,
    )


async def test_full_lifecycle_over_http(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    payer = (await make_payer(db)).id
    created = await _open(client, token(ops), provider.provider_id, payer)
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    assert created.json()["status"] == "requested"
    duplicate = await _open(client, token(ops), provider.provider_id, payer)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "credentialing_open")

    for to in ("submitted", "in_review"):
        assert (await _move(client, token(ops), record_id, to)).status_code == 200
    wrong = await _move(client, token(ops), record_id, "expired")
    assert wrong.status_code == 409
    assert wrong.json()["code"] == "invalid_transition"
    assert "from in_review to expired" in wrong.json()["detail"]
    no_dates = await _move(client, token(ops), record_id, "approved")
    assert (no_dates.status_code, no_dates.json()["errors"][0]["field"]) == (422, "effective_on")
    approved = await _move(
        client, token(ops), record_id, "approved", effective_on="2026-01-01", ends_on="2026-12-31"
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["effective_on"], body["ends_on"]) == (
        "approved",
        "2026-01-01",
        "2026-12-31",
    )
    assert [e["to_status"] for e in body["events"]] == [
        "requested",
        "submitted",
        "in_review",
        "approved",
    ]
    assert body["events"][0]["from_status"] is None
    assert body["events"][-1]["actor_user_id"] == str(ops.user_id)

    mine = await client.get(f"/credentialing/{record_id}", headers=token(provider))
    assert mine.status_code == 200
    assert mine.json()["events"] == body["events"]


async def test_lists_filter_and_a_provider_sees_only_their_own(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    a = await make_provider(db, settings, ops)
    b = await make_provider(db, settings, ops)
    aetna, cigna = (await make_payer(db, name="Aetna")).id, (await make_payer(db, name="Cigna")).id
    a_aetna = (await _open(client, token(ops), a.provider_id, aetna)).json()["id"]
    a_cigna = (await _open(client, token(ops), a.provider_id, cigna)).json()["id"]
    b_aetna = (await _open(client, token(ops), b.provider_id, aetna)).json()["id"]
    await _move(client, token(ops), a_cigna, "submitted")

    async def ids(query: str, who: Any) -> list[str]:
        response = await client.get(f"/credentialing{query}", headers=token(who))
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert await ids("", ops) == [a_aetna, a_cigna, b_aetna]
    assert await ids(f"?provider_id={a.provider_id}", ops) == [a_aetna, a_cigna]
    assert await ids(f"?payer_id={aetna}", ops) == [a_aetna, b_aetna]
    assert await ids("?status=submitted", ops) == [a_cigna]
    assert await ids("", a) == [a_aetna, a_cigna]
    assert await ids(f"?provider_id={b.provider_id}", a) == []
    assert await ids("", b) == [b_aetna]
    page = (await client.get("/credentialing?limit=2", headers=token(ops))).json()
    rest = await client.get(
        "/credentialing", params={"cursor": page["next_cursor"]}, headers=token(ops)
    )
    assert [r["id"] for r in rest.json()["items"]] == [b_aetna]
    for bad in ("status=bogus", "provider_id=not-a-uuid", "expiring=maybe", "limit=500"):
        assert (await client.get(f"/credentialing?{bad}", headers=token(ops))).status_code == 400


async def test_expiring_lists_what_the_job_flagged(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    record_ids = []
    for ends_on in ("2027-02-01", "2027-09-01"):
        record_id = (
            await _open(client, token(ops), provider.provider_id, (await make_payer(db)).id)
        ).json()["id"]
        for to in ("submitted", "in_review"):
            await _move(client, token(ops), record_id, to)
        await _move(
            client, token(ops), record_id, "approved", effective_on="2026-01-01", ends_on=ends_on
        )
        record_ids.append(record_id)
    await run_expiry(db, date(2027, 1, 1), settings.credentialing_warn_days)
    listed = await client.get("/credentialing?expiring=true", headers=token(ops))
    assert [r["id"] for r in listed.json()["items"]] == [record_ids[0]]
    assert listed.json()["items"][0]["expiry_warned_at"] is not None
    own = await client.get("/credentialing?expiring=true", headers=token(provider))
    assert [r["id"] for r in own.json()["items"]] == [record_ids[0]]


@pytest.mark.parametrize(
    "body",
    [
        {"to_status": "approved"},
        {"to_status": "approved", "reason": ""},
        {"to_status": "sideways", "reason": "x"},
        {"to_status": "denied", "reason": "x\x00y"},
        {"to_status": "denied", "reason": "x" * 1001},
        {"to_status": "approved", "reason": "x", "effective_on": "2026-02-30",
         "ends_on": "2026-12-31"},
        {"to_status": "approved", "reason": "x", "effective_on": 20260101,
         "ends_on": "2026-12-31"},
        {"to_status": "denied", "reason": "x", "actor_user_id": str(uuid.uuid4())},
        {"to_status": ["denied"], "reason": "x"},
    ],
)  # fmt: skip
async def test_bad_transition_bodies_are_400_and_change_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    token: Any,
    body: dict[str, Any],
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    record_id = (
        await _open(client, token(ops), provider.provider_id, (await make_payer(db)).id)
    ).json()["id"]
    await _move(client, token(ops), record_id, "submitted")
    await _move(client, token(ops), record_id, "in_review")
    response = await client.post(
        f"/credentialing/{record_id}/transitions", json=body, headers=token(ops)
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        await db.fetchval(
            "SELECT status FROM credentialing_records WHERE id = $1", uuid.UUID(record_id)
        )
        == "in_review"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"provider_id": "nope", "payer_id": str(uuid.uuid4())}, 400),
        ({"provider_id": str(uuid.uuid4())}, 400),
        ({"provider_id": str(uuid.uuid4()), "payer_id": str(uuid.uuid4())}, 422),
        ({"provider_id": str(uuid.uuid4()), "payer_id": str(uuid.uuid4()),
          "status": "approved"}, 400),
    ],
)  # fmt: skip
async def test_bad_requests_to_open_are_4xx(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, body: Any, status: int
) -> None:
    ops = await make_ops(db)
    response = await client.post("/credentialing", json=body, headers=token(ops))
    assert response.status_code == status, response.text
    assert await db.fetchval("SELECT count(*) FROM credentialing_records") == 0
