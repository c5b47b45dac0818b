"""Hostile input on every payers route: always a 4xx problem naming what was wrong, never a 5xx."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payers import PayerOut
from services.core.auth import Actor
from tests.factories import make_fee

NASTY: list[Any] = [
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "",
    "x" * 10_000,
    "'; DROP TABLE payers; --",
    "\u202e95",
    10**40,
    -(10**40),
    2**63,
    -1,
    0,
    1.5,
    float("1e308"),
    True,
    None,
    [],
    {},
    ["\x00"],
    "2026-02-30",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "2026-13-01",
]

PAYER_FIELDS = ["name", "x12_payer_id", "timely_filing_days", "telehealth_modifier",
                "prior_auth_cpt_codes", "claim_filing_indicator", "appeal_window_days",
                "unknown"]  # fmt: skip
FEE_FIELDS = ["cpt_code", "modifier", "allowed_cents", "provider_rate_cents", "effective_from",
              "effective_to", "unknown"]  # fmt: skip


def _check(response: httpx.Response, context: Any) -> None:
    assert response.status_code < 500, (context, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), context


async def _payer_writes_nothing_bad(db: asyncpg.Connection) -> None:
    # Whatever was accepted satisfies the table's own rules; nothing half-written.
    assert await db.fetchval("SELECT count(*) FROM payers WHERE name ~ '[\\x01-\\x1f]'") == 0


@pytest.mark.parametrize("field", PAYER_FIELDS)
async def test_payer_bodies(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    field: str,
) -> None:
    base = {"name": "Fuzz", "x12_payer_id": "FUZZ1", "timely_filing_days": 30}
    for i, value in enumerate(NASTY):
        body = {**base, "x12_payer_id": f"FUZZ{i}", field: value}
        created = await client.post("/payers", json=body, headers=token(ops))
        _check(created, (field, value))
        if created.status_code >= 400:
            assert field in created.text or field == "unknown", (field, value, created.text)
        patched = await client.patch(f"/payers/{payer.id}", json={field: value}, headers=token(ops))
        _check(patched, ("patch", field, value))
    await _payer_writes_nothing_bad(db)


@pytest.mark.parametrize("field", FEE_FIELDS)
async def test_fee_schedule_bodies(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    field: str,
) -> None:
    base = {
        "cpt_code": "90837",
        "allowed_cents": 100,
        "provider_rate_cents": 50,
        "effective_from": "2026-01-01",
        "effective_to": "2026-01-01",
    }
    fee = await make_fee(db, ops, payer.id, cpt_code="90834")
    for i, value in enumerate(NASTY):
        # A fresh day per attempt, so an accepted body never meets the previous one's range.
        day = f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}"
        body = {**base, "effective_from": day, "effective_to": day, field: value}
        created = await client.post(
            f"/payers/{payer.id}/fee-schedules", json=body, headers=token(ops)
        )
        _check(created, (field, value))
        if created.status_code in (400, 422):
            error = created.json()["errors"][0]
            assert error["field"] in (field, "provider_rate_cents"), (value, error)
    for value in NASTY:
        ended = await client.post(
            f"/payers/{payer.id}/fee-schedules/{fee.id}/end",
            json={"effective_to": value},
            headers=token(ops),
        )
        _check(ended, ("end", value))
        assert ended.status_code != 200, value


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b"null", b'"string"', b"{", b"\x00", b'{"name": "\\u0000"}'],
)
async def test_bodies_that_are_not_objects(
    client: httpx.AsyncClient, payer: PayerOut, ops: Actor, token: Any, raw: bytes
) -> None:
    headers = {**token(ops), "Content-Type": "application/json"}
    for method, url in [
        ("POST", "/payers"),
        ("PATCH", f"/payers/{payer.id}"),
        ("POST", f"/payers/{payer.id}/fee-schedules"),
    ]:
        response = await client.request(method, url, content=raw, headers=headers)
        assert 400 <= response.status_code < 500, (method, url, raw, response.text)


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


QUERIES: list[dict[str, Any]] = [
    {"q": "\x00"},
    {"q": "a\x00"},
    {"q": ""},
    {"q": "x" * 500},
    {"q": "%_\\"},
    {"limit": "0"},
    {"limit": "201"},
    {"limit": str(10**40)},
    {"limit": "-1"},
    {"limit": "abc"},
    {"cursor": "!!!"},
    {"cursor": "\x00"},
    {"cursor": _cursor(b"[]")},
    {"cursor": _cursor(b'["0001-01-01T00:00:00Z","00000000-0000-0000-0000-000000000000"]')},
    {"cursor": _cursor(b'["9999-12-31T23:59:59Z","not-a-uuid"]')},
    {"cursor": _cursor(b'["2026-01-01T00:00:00Z","00000000-0000-0000-0000-000000000000"]')},
    {"cursor": "x" * 5000},
    {"cpt_code": "\x00"},
    {"cpt_code": "9083"},
    {"cpt_code": "908377"},
    {"as_of": "2026-02-30"},
    {"as_of": "0001-01-01"},
    {"as_of": "9999-12-31"},
    {"as_of": "yesterday"},
]


@pytest.mark.parametrize("params", QUERIES, ids=lambda p: repr(p)[:40])
async def test_list_query_parameters(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    params: dict[str, Any],
) -> None:
    await make_fee(db, ops, payer.id)
    for url in ("/payers", f"/payers/{payer.id}/fee-schedules"):
        response = await client.get(url, params=params, headers=token(ops))
        _check(response, (url, params))
        name = next(iter(params))
        applies = name in ("limit", "cursor") or (name == "q") == (url == "/payers")
        if response.status_code == 400 and applies:
            assert name in response.text, (url, params, response.text)


async def test_bad_path_ids_are_404(
    client: httpx.AsyncClient, payer: PayerOut, ops: Actor, token: Any
) -> None:
    for url in (
        "/payers/not-a-uuid",
        "/payers/%00",
        f"/payers/{payer.id}/fee-schedules/123",
        f"/payers/{payer.id}/fee-schedules/{'f' * 500}/end",
    ):
        response = await client.get(url, headers=token(ops))
        assert response.status_code in (404, 405), (url, response.text)
