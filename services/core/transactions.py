"""Short transactions, for use cases that must hold no connection across slow work.

The request's transaction (`conn`) is held from before the handler until the response: right
for most routes, wrong for one that waits on Redis or spends ~100 ms in argon2 (login, password
change, invitations, email verification). Such a route takes `Transactions` instead and opens
two short ones: read what it needs, let the connection go, do the slow part with nothing held,
then write in a second one that re-checks what the slow part relied on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, cast

import asyncpg

from services.core.db import transaction_on

Acquire = Callable[[], AbstractAsyncContextManager[Any]]


class Transactions:
    """Opens short transactions: each on a connection lent for it alone, given back at its end.

    Committed when the block ends, rolled back if it raises (unless the error keeps its writes,
    as provide_conn does).
    """

    def __init__(self, acquire: Acquire) -> None:
        self._acquire = acquire

    @classmethod
    def within(cls, conn: asyncpg.Connection) -> Transactions:
        """Savepoints of a transaction the caller already holds (scripts, tests)."""
        return cls(lambda: nullcontext(conn))

    @asynccontextmanager
    async def __call__(self) -> AsyncGenerator[asyncpg.Connection, None]:
        async with (
            self._acquire() as lent,
            transaction_on(cast(asyncpg.Connection, lent)) as conn,
        ):
            yield conn
