"""Fee schedules: create, refuse overlaps (service and route), end (only shorter), history kept."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payers import FeeScheduleOut, PayerOut
from services.core.auth import Actor
from services.core.errors import Conflict, NotFound, Unprocessable
from services.payers import queries, service
from tests.factories import make_actor, make_fee, make_payer

D = date


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cpt_code": "90837",
        "allowed_cents": 15000,
        "provider_rate_cents": 11000,
        "effective_from": "2026-01-01",
    }
    body.update(overrides)
    return body


async def test_create_returns_the_row_with_inclusive_dates(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, payer: PayerOut, token: Any
) -> None:
    response = await client.post(
        f"/payers/{payer.id}/fee-schedules",
        json=_body(modifier="95", effective_to="2026-06-30"),
        headers=token(ops),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["payer_id"] == str(payer.id)
    assert (body["cpt_code"], body["modifier"]) == ("90837", "95")
    assert (body["allowed_cents"], body["provider_rate_cents"]) == (15000, 11000)
    assert (body["effective_from"], body["effective_to"]) == ("2026-01-01", "2026-06-30")
    assert body["created_by"] == str(ops.user_id)
    assert body["ended_at"] is None
    assert body["ended_by"] is None
    row = await db.fetchrow(
        "SELECT valid, created_by FROM fee_schedules WHERE id = $1", uuid.UUID(body["id"])
    )
    assert (row["valid"].lower, row["valid"].upper) == (D(2026, 1, 1), D(2026, 7, 1))
    assert row["created_by"] == ops.user_id


async def test_no_modifier_is_stored_as_empty_and_shown_as_null(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id)
    assert fee.modifier is None
    assert fee.effective_to is None
    stored = await db.fetchval(
        "SELECT k.modifier FROM fee_schedule_keys k JOIN fee_schedules s ON s.key_id = k.id "
        "WHERE s.id = $1",
        fee.id,
    )
    assert stored == ""


async def test_provider_rate_above_allowed_is_422_naming_it(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, payer: PayerOut, token: Any
) -> None:
    response = await client.post(
        f"/payers/{payer.id}/fee-schedules",
        json=_body(allowed_cents=100, provider_rate_cents=101),
        headers=token(ops),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "provider_rate_cents"
    assert await db.fetchval("SELECT count(*) FROM fee_schedules") == 0


async def test_equal_rate_and_allowed_is_accepted(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id, allowed_cents=100, provider_rate_cents=100)
    assert fee.provider_rate_cents == fee.allowed_cents == 100


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"effective_to": "2025-12-31"}, "effective_to"),
        ({"effective_from": "1999-12-31"}, "effective_from"),
        ({"effective_to": "9999-12-31"}, "effective_to"),
    ],
)
async def test_bad_dates_are_422_naming_the_field(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(
        f"/payers/{payer.id}/fee-schedules", json=_body(**overrides), headers=token(ops)
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await db.fetchval("SELECT count(*) FROM fee_schedules") == 0


async def test_a_one_day_range_is_allowed(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id, effective_to=D(2026, 1, 1))
    assert fee.effective_from == fee.effective_to == D(2026, 1, 1)


async def test_unknown_payer_is_404(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, token: Any
) -> None:
    response = await client.post(
        f"/payers/{uuid.uuid4()}/fee-schedules", json=_body(), headers=token(ops)
    )
    assert response.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM fee_schedule_keys") == 0


# (first row, second row, refused?) — inclusive dates; None = open-ended.
OVERLAPS = [
    ((D(2026, 1, 1), D(2026, 6, 30)), (D(2026, 7, 1), None), False),  # touching: next day
    ((D(2026, 1, 1), D(2026, 6, 30)), (D(2026, 6, 30), None), True),  # shares the last day
    ((D(2026, 1, 1), D(2026, 6, 30)), (D(2025, 1, 1), D(2026, 1, 1)), True),  # shares the first
    (
        (D(2026, 1, 1), D(2026, 6, 30)),
        (D(2025, 1, 1), D(2025, 12, 31)),
        False,
    ),  # ends the day before
    ((D(2026, 1, 1), D(2026, 6, 30)), (D(2026, 3, 1), D(2026, 3, 31)), True),  # inside
    ((D(2026, 1, 1), D(2026, 6, 30)), (D(2025, 1, 1), None), True),  # wraps it, open-ended
    ((D(2026, 1, 1), None), (D(2030, 1, 1), D(2030, 12, 31)), True),  # open-ended vs later row
    ((D(2026, 1, 1), None), (D(2025, 1, 1), D(2025, 12, 31)), False),  # before an open-ended row
    ((D(2026, 1, 1), None), (D(2027, 1, 1), None), True),  # two open-ended
]


@pytest.mark.parametrize(("first", "second", "refused"), OVERLAPS)
async def test_overlap_rules_at_the_service(
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    first: tuple[date, date | None],
    second: tuple[date, date | None],
    refused: bool,
) -> None:
    existing = await make_fee(db, ops, payer.id, effective_from=first[0], effective_to=first[1])
    if not refused:
        made = await make_fee(db, ops, payer.id, effective_from=second[0], effective_to=second[1])
        assert (made.effective_from, made.effective_to) == second
        return
    with pytest.raises(Conflict) as info:
        await make_fee(db, ops, payer.id, effective_from=second[0], effective_to=second[1])
    assert info.value.code == "fee_schedule_overlap"
    assert info.value.field == "effective_from"
    assert str(existing.id) in info.value.detail
    assert str(first[0]) in info.value.detail


@pytest.mark.parametrize(("first", "second", "refused"), OVERLAPS)
async def test_overlap_rules_at_the_route(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    first: tuple[date, date | None],
    second: tuple[date, date | None],
    refused: bool,
) -> None:
    await make_fee(db, ops, payer.id, effective_from=first[0], effective_to=first[1])
    body = _body(
        effective_from=second[0].isoformat(),
        effective_to=second[1].isoformat() if second[1] else None,
    )
    response = await client.post(f"/payers/{payer.id}/fee-schedules", json=body, headers=token(ops))
    count = await db.fetchval("SELECT count(*) FROM fee_schedules")
    if refused:
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["code"] == "fee_schedule_overlap"
        assert problem["errors"][0]["field"] == "effective_from"
        assert count == 1
    else:
        assert response.status_code == 201, response.text
        assert count == 2


async def test_other_modifier_code_and_payer_may_overlap(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    other_payer = await make_payer(db)
    await make_fee(db, ops, payer.id)
    await make_fee(db, ops, payer.id, modifier="95")
    await make_fee(db, ops, payer.id, modifier="GT")
    await make_fee(db, ops, payer.id, cpt_code="90834")
    await make_fee(db, ops, other_payer.id)
    assert await db.fetchval("SELECT count(*) FROM fee_schedules") == 5
    assert await db.fetchval("SELECT count(*) FROM fee_schedule_keys") == 5


async def test_the_database_refuses_an_overlap_the_service_did_not_see(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_fee(db, ops, payer.id)

    async def blind(*_: Any) -> None:
        return None

    # As if a concurrent writer committed after our check: the exclusion constraint decides.
    monkeypatch.setattr(queries, "get_overlapping_fee_schedule", blind)
    with pytest.raises(Conflict) as info:
        await make_fee(db, ops, payer.id, effective_from=D(2027, 1, 1))
    assert (info.value.code, info.value.field) == ("fee_schedule_overlap", "effective_from")
    # The savepoint kept the test's transaction usable.
    assert await db.fetchval("SELECT count(*) FROM fee_schedules") == 1


async def test_end_shortens_and_records_who_and_when(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, payer: PayerOut, token: Any
) -> None:
    fee = await make_fee(db, ops, payer.id)
    ender = await make_actor(db, "ops")
    response = await client.post(
        f"/payers/{payer.id}/fee-schedules/{fee.id}/end",
        json={"effective_to": "2026-06-30"},
        headers=token(ender),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["effective_to"] == "2026-06-30"
    assert body["ended_by"] == str(ender.user_id)
    assert body["created_by"] == str(ops.user_id)
    assert body["ended_at"] is not None
    assert (body["allowed_cents"], body["provider_rate_cents"]) == (15000, 11000)
    # The replacement starts the next day.
    new = await make_fee(db, ops, payer.id, effective_from=D(2026, 7, 1), allowed_cents=16000)
    assert new.effective_from == D(2026, 7, 1)


@pytest.mark.parametrize(
    ("effective_to", "end", "code"),
    [
        (None, D(2025, 12, 31), "bad_fee_schedule"),  # before the start
        (D(2026, 6, 30), D(2026, 6, 30), "fee_schedule_end_not_shorter"),  # same end
        (D(2026, 6, 30), D(2026, 7, 1), "fee_schedule_end_not_shorter"),  # longer
    ],
)
async def test_end_refuses_anything_but_shortening(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    ops: Actor,
    payer: PayerOut,
    token: Any,
    effective_to: date | None,
    end: date,
    code: str,
) -> None:
    fee = await make_fee(db, ops, payer.id, effective_to=effective_to)
    response = await client.post(
        f"/payers/{payer.id}/fee-schedules/{fee.id}/end",
        json={"effective_to": end.isoformat()},
        headers=token(ops),
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.json()["errors"][0]["field"] == "effective_to"
    assert await service.get_fee_schedule(db, ops, payer.id, fee.id) == fee


async def test_end_on_the_first_day_leaves_a_one_day_row(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id, effective_to=D(2026, 12, 31))
    ended = await service.end_fee_schedule(db, ops, payer.id, fee.id, D(2026, 1, 1))
    assert (ended.effective_from, ended.effective_to) == (D(2026, 1, 1), D(2026, 1, 1))
    with pytest.raises(Unprocessable):
        await service.end_fee_schedule(db, ops, payer.id, fee.id, D(2026, 1, 1))


async def test_end_under_another_payer_is_404(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id)
    other = await make_payer(db)
    with pytest.raises(NotFound):
        await service.end_fee_schedule(db, ops, other.id, fee.id, D(2026, 3, 1))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE fee_schedules SET allowed_cents = allowed_cents + 1 WHERE id = $1",
        "UPDATE fee_schedules SET valid = daterange('2020-01-01', NULL) WHERE id = $1",
        "UPDATE fee_schedules SET valid = daterange(lower(valid), '2027-02-01') WHERE id = $1",
        "DELETE FROM fee_schedules WHERE id = $1",
    ],
)
async def test_the_database_keeps_history(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut, sql: str
) -> None:
    fee = await make_fee(db, ops, payer.id, effective_to=D(2026, 12, 31))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.transaction():
            await db.execute(sql, fee.id)
    assert await service.get_fee_schedule(db, ops, payer.id, fee.id) == fee


async def test_list_filters_by_code_and_date_and_pages(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, payer: PayerOut, token: Any
) -> None:
    old = await make_fee(db, ops, payer.id, effective_to=D(2026, 6, 30))
    new = await make_fee(db, ops, payer.id, effective_from=D(2026, 7, 1))
    other = await make_fee(db, ops, payer.id, cpt_code="90834")
    url = f"/payers/{payer.id}/fee-schedules"

    async def ids(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=token(ops))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert sorted(await ids()) == sorted(str(f.id) for f in (old, new, other))
    assert sorted(await ids(cpt_code="90837")) == sorted([str(old.id), str(new.id)])
    assert await ids(cpt_code="90837", as_of="2026-06-30") == [str(old.id)]
    assert await ids(cpt_code="90837", as_of="2026-07-01") == [str(new.id)]
    assert await ids(as_of="2025-12-31") == []

    first = (await client.get(url, params={"limit": 2}, headers=token(ops))).json()
    assert len(first["items"]) == 2
    rest = await client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=token(ops)
    )
    assert rest.json()["next_cursor"] is None
    paged = [i["id"] for i in first["items"] + rest.json()["items"]]
    assert sorted(paged) == sorted(str(f.id) for f in (old, new, other))


async def test_provider_sees_the_rate_but_not_the_allowed_amount(
    client: httpx.AsyncClient, db: asyncpg.Connection, ops: Actor, payer: PayerOut, token: Any
) -> None:
    fee = await make_fee(db, ops, payer.id)
    provider = await make_actor(db, "provider")
    one = await client.get(f"/payers/{payer.id}/fee-schedules/{fee.id}", headers=token(provider))
    assert one.status_code == 200
    assert one.json() == {
        "id": str(fee.id),
        "payer_id": str(payer.id),
        "cpt_code": "90837",
        "modifier": None,
        "provider_rate_cents": 11000,
        "effective_from": "2026-01-01",
        "effective_to": None,
    }
    listed = await client.get(f"/payers/{payer.id}/fee-schedules", headers=token(provider))
    assert listed.json()["items"] == [one.json()]


async def test_service_returns_full_rows_to_ops(
    db: asyncpg.Connection, ops: Actor, payer: PayerOut
) -> None:
    fee = await make_fee(db, ops, payer.id)
    got = await service.get_fee_schedule(db, ops, payer.id, fee.id)
    assert isinstance(got, FeeScheduleOut)
    assert got.allowed_cents == 15000


async def test_openapi_documents_both_views(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "create_payer", "update_payer", "list_payers", "get_payer", "create_fee_schedule",
        "list_fee_schedules", "get_fee_schedule", "end_fee_schedule",
    } <= operations  # fmt: skip
    schemas = spec["components"]["schemas"]
    assert "allowed_cents" in schemas["FeeScheduleOut"]["properties"]
    assert "allowed_cents" not in schemas["FeeScheduleRateOut"]["properties"]


async def test_the_exclusion_constraint_needs_no_extension(db: asyncpg.Connection) -> None:
    # This machine has btree_gist; pgserver does not. The schema must not lean on it.
    assert await db.fetchval("SELECT array_agg(extname::text) FROM pg_extension") == ["plpgsql"]
    definition = await db.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'fee_schedules'::regclass AND contype = 'x'"
    )
    assert "int8range(key_id, key_id, '[]'::text) WITH &&" in definition
