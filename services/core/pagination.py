"""Keyset pages over (created_at, id): opaque cursors, the SQL seek, and the page built.

Every list route pages the same way. Its queries function calls `fetch_page` with the query up
to its WHERE clause; its service calls `page_of` with that function, the cursor and the limit.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Generic, Protocol, TypeAlias, TypeVar

import asyncpg
import msgspec
from litestar.params import QueryParameter

from services.core.db import to_structs
from services.core.errors import DomainError

T = TypeVar("T")
U = TypeVar("U")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# The two query parameters every list route takes: `limit: LimitQuery = DEFAULT_LIMIT` and
# `cursor: CursorQuery = None`. A cursor is unpadded urlsafe base64 (see encode_cursor).
LimitQuery: TypeAlias = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
CursorQuery: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=512, pattern=r"^[A-Za-z0-9_-]+$")
]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (a row to its response shape)."""
        return Page(items=[convert(item) for item in self.items], next_cursor=self.next_cursor)


class Keyed(Protocol):
    """A row a cursor can point at."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


K = TypeVar("K", bound=Keyed)
# The (created_at, id) of the last row of the page before: where the next one starts.
After: TypeAlias = tuple[datetime, uuid.UUID]


class _Key(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


class BadCursor(DomainError):
    status, code, title = 400, "bad_cursor", "Invalid request"


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = msgspec.json.encode(_Key(created_at=created_at, id=id_))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> After | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=_Key)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("cursor is not one this API issued", field="cursor") from exc
    return key.created_at, key.id


def created_key(item: Keyed) -> After:
    """The key of a page in (created_at, id) order: every page but those sorted otherwise."""
    return item.created_at, item.id


def make_page(items: list[K], limit: int, key: Callable[[K], After] = created_key) -> Page[K]:
    """`items` were fetched with LIMIT limit + 1: one extra row says another page exists.

    `key` is the (instant, id) of the row the next page starts after: a list sorted by
    another instant (a deadline) passes its own.
    """
    if len(items) <= limit:
        return Page(items=items, next_cursor=None)
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(*key(items[-1])))


async def page_of(
    fetch: Callable[[After | None, int], Awaitable[list[K]]],
    cursor: str | None,
    limit: int,
    key: Callable[[K], After] = created_key,
) -> Page[K]:
    """The page after `cursor` (400 naming `cursor` if this API did not issue it).

    `fetch(after, n)` returns at most n rows after `after`, in page order; it is asked for one
    more than `limit`: that row, never shown, says another page exists.
    """
    after = decode_cursor(cursor)
    return make_page(await fetch(after, limit + 1), limit, key)


async def fetch_page(
    conn: asyncpg.Connection,
    typ: type[T],
    query: str,
    *args: object,
    after: After | None,
    limit: int,
    alias: str = "",
    newest_first: bool = False,
) -> list[T]:
    """At most `limit` rows of `query` after `after`, oldest first (or newest first).

    `query` ends in its WHERE clause, whose parameters are `args`; the seek is ANDed to it, then
    the ORDER BY and LIMIT, its three parameters numbered after `args`. `alias` qualifies
    created_at and id when the query names its table (`alias="c"` for `FROM clients c`).
    """
    created_at, last_id = after or (None, None)
    sql = query + _seek(len(args) + 1, alias, newest_first)
    return to_structs(await conn.fetch(sql, *args, created_at, last_id, limit), typ)


@functools.cache
def _seek(first: int, alias: str, newest_first: bool) -> str:
    """The seek for parameters $first (created_at), $first + 1 (id) and $first + 2 (limit)."""
    if alias and not alias.isidentifier():
        raise ValueError(f"not a table alias: {alias!r}")
    created_at, id_ = (f"{alias}.created_at", f"{alias}.id") if alias else ("created_at", "id")
    past, order = ("<", " DESC") if newest_first else (">", "")
    at, last, limit = f"${first}", f"${first + 1}", f"${first + 2}"
    return (
        f"\n  AND ({at}::timestamptz IS NULL OR ({created_at}, {id_}) {past} ({at}, {last}::uuid))"
        f"\nORDER BY {created_at}{order}, {id_}{order} LIMIT {limit}"
    )
