"""The keyset helper: fetch_page's seek in SQL, page_of's cursor and extra row, on a real table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from services.core.pagination import (
    After,
    BadCursor,
    Page,
    decode_cursor,
    encode_cursor,
    fetch_page,
    page_of,
)
from tests.factories import make_ops

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
# A cursor as the API issued it before the helper existed (and must keep accepting).
ISSUED = (
    "WyIyMDI2LTAxLTAyVDAzOjA0OjA1LjY3ODkwMVoiLCIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDEiXQ"
)


class Thing(msgspec.Struct):
    id: uuid.UUID
    created_at: datetime
    kind: str


@pytest.fixture
async def things(db: asyncpg.Connection) -> list[Thing]:
    """Seven rows in page order; two share a created_at (the id breaks the tie), one is 'b'."""
    await db.execute(
        "CREATE TEMP TABLE things (id uuid PRIMARY KEY, created_at timestamptz NOT NULL,"
        " kind text NOT NULL) ON COMMIT DROP"
    )
    at = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1)] + [
        T0 + timedelta(minutes=m) for m in range(2, 6)
    ]
    rows = [Thing(uuid.UUID(int=i + 1), a, "b" if i == 3 else "a") for i, a in enumerate(at)]
    await db.executemany(
        "INSERT INTO things (id, created_at, kind) VALUES ($1, $2, $3)",
        [(t.id, t.created_at, t.kind) for t in rows],
    )
    return sorted(rows, key=lambda t: (t.created_at, t.id))


def _fetch(db: asyncpg.Connection, kind: str | None = None, **order: Any) -> Any:
    async def fetch(after: After | None, n: int) -> list[Thing]:
        query = (
            "SELECT t.id, t.created_at, t.kind FROM things t WHERE ($1::text IS NULL OR kind = $1)"
        )
        return await fetch_page(db, Thing, query, kind, after=after, limit=n, alias="t", **order)

    return fetch


def _cursor(thing: Thing) -> str:
    return encode_cursor(thing.created_at, thing.id)


async def test_first_page_holds_the_oldest_rows_and_points_past_its_last(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    page = await page_of(_fetch(db), None, 3)
    assert page == Page(items=things[:3], next_cursor=_cursor(things[2]))


async def test_a_middle_page_starts_after_the_cursor_even_inside_a_created_at_tie(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    # things[1] and things[2] share a created_at: the id decides which comes first.
    assert things[1].created_at == things[2].created_at
    page = await page_of(_fetch(db), _cursor(things[1]), 2)
    assert page == Page(items=things[2:4], next_cursor=_cursor(things[3]))


async def test_a_last_page_exactly_at_the_limit_has_no_next_cursor(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    last = await page_of(_fetch(db), _cursor(things[3]), 3)
    assert last == Page(items=things[4:], next_cursor=None)
    whole = await page_of(_fetch(db), None, len(things))
    assert whole == Page(items=things, next_cursor=None)
    one_short = await page_of(_fetch(db), None, len(things) - 1)
    assert one_short.next_cursor == _cursor(things[-2])


async def test_walking_every_page_sees_each_row_once_in_either_order(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    for order, expected in (({}, things), ({"newest_first": True}, things[::-1])):
        seen: list[Thing] = []
        cursor: str | None = None
        while True:
            page = await page_of(_fetch(db, **order), cursor, 2)
            seen += page.items
            if (cursor := page.next_cursor) is None:
                break
        assert seen == expected, order


async def test_the_query_s_own_parameters_come_first(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    only_b = [t for t in things if t.kind == "b"]
    assert await page_of(_fetch(db, "b"), None, 5) == Page(items=only_b, next_cursor=None)
    assert await page_of(_fetch(db, "a"), _cursor(only_b[0]), 5) == Page(
        items=[t for t in things if t.kind == "a" and t.created_at > only_b[0].created_at],
        next_cursor=None,
    )


async def test_a_cursor_issued_before_the_helper_still_pages(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    assert _cursor(things[0]) == ISSUED
    assert decode_cursor(ISSUED) == (T0, uuid.UUID(int=1))
    page = await page_of(_fetch(db), ISSUED, 1)
    assert page == Page(items=[things[1]], next_cursor=_cursor(things[1]))


@pytest.mark.parametrize(
    "cursor", ["bm90LWEta2V5", "W10", "WyIyMDI2LTAxLTAxIiwibm90LWEtdXVpZCJd", "x", "AAAA"]
)
async def test_a_cursor_this_api_did_not_issue_is_refused_naming_cursor(cursor: str) -> None:
    async def never(after: After | None, n: int) -> list[Thing]:
        raise AssertionError("fetched despite a bad cursor")

    with pytest.raises(BadCursor) as refused:
        await page_of(never, cursor, 10)
    assert (refused.value.status, refused.value.field) == (400, "cursor")


async def test_a_list_route_answers_a_bad_cursor_400_naming_cursor(
    client: httpx.AsyncClient, db: asyncpg.Connection, token: Any
) -> None:
    ops = await make_ops(db)
    response = await client.get("/payers", params={"cursor": "bm90LWEta2V5"}, headers=token(ops))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_an_alias_that_is_not_a_name_is_refused(
    db: asyncpg.Connection, things: list[Thing]
) -> None:
    with pytest.raises(ValueError, match="alias"):
        await fetch_page(
            db, Thing, "SELECT * FROM things t WHERE TRUE", after=None, limit=1, alias="t; --"
        )
