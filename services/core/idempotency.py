"""Idempotency-Key support for POSTs a client may retry.

Inside the request's transaction the (user, key) row is inserted first. A concurrent repeat's
INSERT waits on the primary key until the first transaction ends: after a commit it finds the
row and replays the stored response; after a rollback (the first attempt failed, e.g. 422) its
own INSERT goes through and it runs the use case itself. So only successful responses are ever
stored, and a failed attempt leaves no key behind.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import msgspec
from litestar import Response
from litestar.params import HeaderParameter

from services.core.errors import Conflict, Unauthorized, Unprocessable

T = TypeVar("T")

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        required=False,
        description="Repeat a request with the same key to get its first response back.",
    ),
]

_PENDING = 0  # response_status while the first attempt's transaction is still open


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"


def request_hash(operation: str, body: msgspec.Struct) -> bytes:
    canonical = msgspec.json.encode(body, order="sorted")
    return hashlib.sha256(operation.encode() + b"\x00" + canonical).digest()


async def run_once(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    key: str | None,
    operation: str,
    body: msgspec.Struct,
    status: int,
    use_case: Callable[[], Awaitable[T]],
    out_type: type[T],
) -> tuple[int, T]:
    """Run `use_case` once per (user, key); a repeat gets the first (status, body) back."""
    if key is None:
        return status, await use_case()
    digest = request_hash(operation, body)
    try:
        inserted = await _insert_key(conn, user_id, key, operation, digest)
    except asyncpg.ForeignKeyViolationError as exc:  # a valid token whose user is gone
        raise Unauthorized("the token's user does not exist") from exc
    if inserted:
        result = await use_case()
        await conn.execute(
            """
            UPDATE idempotency_keys SET response_status = $3, response_body = $4
            WHERE user_id = $1 AND key = $2
            """,
            user_id,
            key,
            status,
            msgspec.to_builtins(result),
        )
        return status, result
    stored = await _stored(conn, user_id, key, operation, digest, out_type)
    assert stored is not None
    return stored


async def replay(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    key: str | None,
    operation: str,
    body: msgspec.Struct,
    out_type: type[T],
) -> tuple[int, T] | None:
    """The first (status, body) stored under the key, else None: for a use case that calls out
    before its `run_once` (short transactions), so a repeat is answered before it calls again."""
    if key is None:
        return None
    return await _stored(conn, user_id, key, operation, request_hash(operation, body), out_type)


async def _stored(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    key: str,
    operation: str,
    digest: bytes,
    out_type: type[T],
) -> tuple[int, T] | None:
    stored = await conn.fetchrow(
        """
        SELECT operation, request_hash, response_status, response_body
        FROM idempotency_keys WHERE user_id = $1 AND key = $2
        """,
        user_id,
        key,
    )
    if stored is None:
        return None
    if stored["operation"] != operation or bytes(stored["request_hash"]) != digest:
        raise KeyReused(
            "this Idempotency-Key was used with a different request", field="Idempotency-Key"
        )
    if stored["response_status"] == _PENDING:  # only if a use case committed without finishing
        raise Conflict("the first request with this key did not finish", code="idempotency_pending")
    return stored["response_status"], msgspec.convert(stored["response_body"], out_type)


async def respond_once(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    key: str | None,
    operation: str,
    body: msgspec.Struct,
    status: int,
    use_case: Callable[[], Awaitable[T]],
    out_type: type[T],
) -> Response[T]:
    """`run_once` as a route's response: the first answer's status and body."""
    first_status, out = await run_once(
        conn, user_id, key, operation, body, status, use_case, out_type
    )
    return Response(out, status_code=first_status)


async def _insert_key(
    conn: asyncpg.Connection, user_id: uuid.UUID, key: str, operation: str, digest: bytes
) -> bool:
    """True when this request is the first with the key; waits while another holds it."""
    inserted = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response_status,
                                      response_body)
        VALUES ($1, $2, $3, $4, $5, 'null'::jsonb)
        ON CONFLICT (user_id, key) DO NOTHING
        RETURNING true
        """,
        user_id,
        key,
        operation,
        digest,
        _PENDING,
    )
    return bool(inserted)
