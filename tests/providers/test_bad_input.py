"""Nasty values in every field of every body and query: always a 4xx problem, never a 5xx."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from services.core.settings import Settings
from tests.factories import make_ops, make_payer, make_provider, provider_body

NASTY: list[Any] = [
    None, "", "\x00", "a\x00b", "\u202e", 10**30, -(10**30), -1, 0, 1.5, True, [], {},
    "x" * 5000, "2026-13-45", "0000-00-00", "9999-99-99", "' OR 1=1 --", "\ud800",
]  # fmt: skip

ADDRESS = {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207"}


def _variants(body: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{**body, "unexpected": 1}]
    for key in body:
        out += [{**body, key: value} for value in NASTY]
        out.append({k: v for k, v in body.items() if k != key})
    return out


def _json_safe(value: Any) -> bool:
    try:
        httpx.Request("POST", "http://x", json=value)
    except (UnicodeEncodeError, ValueError):
        return False
    return True


async def test_no_body_or_query_makes_a_5xx(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    ops = await make_ops(db)
    provider = await make_provider(db, settings, ops)
    pid = provider.provider_id
    payer = (await make_payer(db)).id
    headers = token(ops)
    location = (
        await client.post(
            f"/providers/{pid}/locations",
            json={"name": "Office", "place_of_service": "11", "address": ADDRESS},
            headers=headers,
        )
    ).json()["id"]
    record = (
        await client.post(
            "/credentialing",
            json={"provider_id": str(pid), "payer_id": str(payer)},
            headers=headers,
        )
    ).json()["id"]
    routes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/providers", provider_body()),
        ("PATCH", f"/providers/{pid}",
         {"first_name": "A", "npi": "1234567893", "tax_id": "123456789"}),
        ("POST", f"/providers/{pid}/licences",
         {"state": "NY", "licence_type": "LCSW", "number": "N1", "expires_on": "2031-01-01"}),
        ("POST", f"/providers/{pid}/locations",
         {"name": "Office", "place_of_service": "11", "address": ADDRESS}),
        ("PATCH", f"/providers/{pid}/locations/{location}",
         {"name": "Office", "place_of_service": "11", "address": ADDRESS}),
        ("PUT", f"/providers/{pid}/self-pay-rates/90837", {"amount_cents": 100}),
        ("POST", "/credentialing", {"provider_id": str(pid), "payer_id": str(payer)}),
        ("POST", f"/credentialing/{record}/transitions",
         {"to_status": "submitted", "reason": "r", "effective_on": "2026-01-01"}),
    ]  # fmt: skip
    seen = 0
    for method, path, body in routes:
        for variant in _variants(body) + [{"address": {**ADDRESS, "zip": z}} for z in NASTY]:
            if not _json_safe(variant):
                continue
            response = await client.request(method, path, json=variant, headers=headers)
            seen += 1
            assert response.status_code < 500, (method, path, variant, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
    assert seen > 500


@pytest.mark.parametrize(
    "query",
    [
        "limit=100000000000000000000000", "limit=-1", "limit=1.5", "cursor=%00",
        "cursor=" + "A" * 600,
        "cursor=W10", "cursor=WyIyMDI2LTAxLTAxIiwibm90LWEtdXVpZCJd", "provider_id=%00",
        "status=%00", "expiring=%00", "payer_id=" + "f" * 400,
    ],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/providers", "/credentialing"])
async def test_bad_queries_are_400(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, path: str, query: str
) -> None:
    ops = await make_ops(db)
    response = await client.get(f"{path}?{query}", headers=token(ops))
    # /providers takes no provider_id, status, expiring or payer_id filter: refused by name.
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "path",
    [
        "/providers/not-a-uuid",
        "/providers/00000000-0000-0000-0000-00000000000g/licences",
        "/credentialing/%00",
        "/providers/00000000-0000-0000-0000-000000000000/self-pay-rates/" + "9" * 3000,
    ],
)
async def test_bad_paths_are_4xx(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any, path: str
) -> None:
    ops = await make_ops(db)
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, path, json={"amount_cents": 1}, headers=token(ops))
        assert 400 <= response.status_code < 500, (method, path, response.text)
