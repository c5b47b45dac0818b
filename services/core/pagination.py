"""Opaque keyset cursors over (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Generic, Protocol, TypeAlias, TypeVar

import msgspec
from litestar.params import QueryParameter

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


class _Key(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


class BadCursor(DomainError):
    status, code, title = 400, "bad_cursor", "Invalid request"


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    raw = msgspec.json.encode(_Key(created_at=created_at, id=id_))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=_Key)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("cursor is not one this API issued", field="cursor") from exc
    return key.created_at, key.id


def make_page(items: list[K], limit: int) -> Page[K]:
    """`items` were fetched with LIMIT limit + 1: one extra row says another page exists."""
    if len(items) <= limit:
        return Page(items=items, next_cursor=None)
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(items[-1].created_at, items[-1].id))
