"""The pool's reset query runs on every connection given back, except one lent as plain."""

from __future__ import annotations

import asyncpg

from services.core.db import acquire_plain, connection, create_pool, transaction


async def _timeout_after(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        shown: str = await conn.fetchval("SHOW statement_timeout")
        return shown


async def test_a_connection_is_reset_unless_lent_as_plain(worker_db: str) -> None:
    # One connection: every acquire below gets the same one back.
    pool = await create_pool(worker_db, min_size=1, max_size=1)
    try:
        default = await _timeout_after(pool)
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '1234ms'")
        assert await _timeout_after(pool) == default, "a SET leaked past the reset"

        # Plain is the caller's promise that nothing needs undoing, so nothing is undone: a
        # SET (which breaks that promise) shows that no reset query ran.
        async with acquire_plain(pool) as conn:
            await conn.execute("SET statement_timeout = '1234ms'")
        assert await _timeout_after(pool) == "1234ms"

        # The promise holds for one lending only: the next one is reset again.
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '2345ms'")
        assert await _timeout_after(pool) == default
    finally:
        await pool.close()


async def test_plain_helpers_skip_the_reset_and_still_roll_back(worker_db: str) -> None:
    pool = await create_pool(worker_db, min_size=1, max_size=1)
    try:
        default = await _timeout_after(pool)
        async with connection(pool, plain=True) as conn:
            await conn.execute("SET statement_timeout = '1234ms'")
        assert await _timeout_after(pool) == "1234ms"
        async with connection(pool) as conn:
            await conn.execute("RESET statement_timeout")
        async with transaction(pool, plain=True) as conn:
            await conn.execute("SET statement_timeout = '1234ms'")  # committed with the block
        assert await _timeout_after(pool) == "1234ms"
        async with connection(pool, plain=False) as conn:
            await conn.execute("SET statement_timeout = '2345ms'")
        assert await _timeout_after(pool) == default

        # An open transaction is rolled back by asyncpg whatever the lending.
        async with acquire_plain(pool) as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE plain_probe (n int)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('pg_temp.plain_probe')") is None
    finally:
        await pool.close()
