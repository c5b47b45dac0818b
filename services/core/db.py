"""asyncpg pool, the request transaction, and Record -> Struct conversion."""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg
import msgspec
from litestar.datastructures import State

T = TypeVar("T")

Connection = asyncpg.Connection  # re-exported so services need not import asyncpg
Record = asyncpg.Record


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class DatabaseUnreachable(ConnectionError):
    """PostgreSQL cannot be reached: an outage (503), whatever OSError the socket gave."""


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    # A stopped server on a Unix socket is a FileNotFoundError (the socket file is gone), which
    # the error handler must not take for an outage everywhere: only here, while connecting.
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (ConnectionError, TimeoutError):
        raise
    except OSError as exc:
        raise DatabaseUnreachable(f"cannot reach PostgreSQL: {exc.strerror or exc}") from exc


# Connections lent as `plain` (see acquire_plain) and not yet given back to their pool.
_PLAIN: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()


async def _reset(conn: asyncpg.Connection) -> None:
    """The pool's reset of a connection given back (asyncpg has already rolled back an open
    transaction and dropped its listeners): the reset query (advisory locks, cursors, LISTEN,
    SET) unless the connection was lent as plain, which can have left none of those."""
    if conn in _PLAIN:
        _PLAIN.discard(conn)
        return
    await conn.execute(conn.get_reset_query())


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        connect=_connect,
        init=init_connection,
        command_timeout=30,
        reset=_reset,
    )
    assert pool is not None
    return pool


def connection_lost(conn: asyncpg.Connection) -> bool:
    """Whether the server went away under `conn` (an outage, not a bug)."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        # The pool already detached the dead connection from its proxy (seen when our backend
        # was terminated during a shutdown): the proxy refuses every call, is_closed() too.
        return True


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """The request's transaction: committed when the handler returns, rolled back if it raises.

    Litestar runs this cleanup before it sends the response, so a failed commit is a 500
    rather than a success the database never saw.
    """
    pool: asyncpg.Pool = state.pool
    # Bounded (Settings.db_acquire_timeout_s): the TimeoutError is answered 503.
    # A pooled connection is a proxy of the Connection it lends; services take either.
    # Plain (acquire_plain): handlers run plain statements only (no SET, LISTEN, session
    # advisory lock or cursor), so no reset query follows every request; a SET LOCAL or
    # pg_advisory_xact_lock ends with the transaction.
    async with (
        acquire_plain(pool, wait_s=state.settings.db_acquire_timeout_s) as lent,
        transaction_on(lent) as conn,
    ):
        yield conn


ConnOpener = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


async def provide_open_conn(state: State) -> ConnOpener:
    """Opens the request's transaction (provide_conn, or the tests' savepoint) on demand.

    For a dependency that must check something on the request's connection before the handler
    runs: Litestar 2 does not close generator dependencies it already opened when a later one
    raises, so a check that may raise is made inside the generator that holds the connection.
    """
    request_conn: Callable[[State], AbstractAsyncContextManager[asyncpg.Connection]]
    request_conn = state.request_conn
    return lambda: request_conn(state)


@asynccontextmanager
async def run_in_transaction(conn: asyncpg.Connection) -> AsyncGenerator[asyncpg.Connection, None]:
    """Commit on success; roll back on error unless the error asks to keep its writes.

    (A detected refresh-token reuse revokes the token family and still answers 401.)
    """
    tx = conn.transaction()
    await tx.start()
    try:
        yield conn
    except BaseException as exc:
        if getattr(exc, "keeps_writes", False):
            await tx.commit()
        else:
            await tx.rollback()
        raise
    else:
        await tx.commit()


@asynccontextmanager
async def transaction_on(conn: asyncpg.Connection) -> AsyncGenerator[asyncpg.Connection, None]:
    """A transaction on a lent connection, a lost connection raised as an outage (503)."""
    try:
        async with run_in_transaction(conn):
            yield conn
    except Exception as exc:
        # The server went away under us (stopped, restarted, our backend terminated): asyncpg
        # then raises whatever the protocol's state gives (InternalClientError,
        # InterfaceError...). Say what it is, so the handler answers 503, not 500.
        if connection_lost(conn) and not isinstance(exc, DatabaseUnreachable):
            raise DatabaseUnreachable("the connection to PostgreSQL was lost") from exc
        raise


@asynccontextmanager
async def acquire_plain(
    pool: asyncpg.Pool, *, wait_s: float | None = None
) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection for plain statements only, given back without the reset query.

    Plain: SELECT, INSERT, UPDATE, DELETE, nextval(), and transactions of those; never SET,
    LISTEN, an advisory lock, a cursor or a prepared statement kept past the block, nor a
    function that does one of those. They are what the pool's reset query undoes, a round trip
    on every release; the caller vouches that there is nothing to undo. An open transaction is
    still rolled back by asyncpg itself.
    """
    async with pool.acquire(timeout=wait_s) as proxy:
        # The pool hands its reset the Connection, not this proxy of it.
        _PLAIN.add(proxy._con)  # type: ignore[attr-defined]
        yield cast(asyncpg.Connection, proxy)


@asynccontextmanager
async def connection(
    pool: asyncpg.Pool, *, plain: bool = False
) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection, no transaction: each statement commits by itself.

    plain: only plain statements run on it (acquire_plain), so no reset query follows.
    """
    async with acquire_plain(pool) if plain else pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, *, plain: bool = False
) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection in a transaction, for jobs and multi-step use cases (plain: as in
    connection())."""
    async with acquire_plain(pool) if plain else pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)
        async with conn.transaction():
            yield conn


def to_struct(record: Record | None, typ: type[T]) -> T | None:
    if record is None:
        return None
    return msgspec.convert(dict(record), typ)


def one(record: Record | None, typ: type[T]) -> T:
    assert record is not None
    return msgspec.convert(dict(record), typ)


def to_structs(records: Iterable[Record], typ: type[T]) -> list[T]:
    return [msgspec.convert(dict(r), typ) for r in records]
