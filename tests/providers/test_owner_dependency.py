"""The `owner` dependency's 404 gives the request's pooled connection back.

Litestar 2 does not close generator dependencies it already opened when a later one raises:
a 404 raised after `conn` was opened would strand that connection, and its transaction,
until the garbage collector found it. Real pool, committed data, no test transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from services.core.settings import Settings
from tests.factories import make_ops, make_provider
from tests.servers import serve_app

POOL_MAX = 2


async def test_many_owner_404s_leave_every_pooled_connection_idle(
    committed_db: str, settings: Settings, token: Any
) -> None:
    small = msgspec.structs.replace(
        settings,
        database_url=committed_db,
        db_pool_min=POOL_MAX,
        db_pool_max=POOL_MAX,
        db_acquire_timeout_s=0.5,
    )
    setup = await asyncpg.connect(committed_db)
    try:
        ops = await make_ops(setup)
        other = await make_provider(setup, small, ops)
        me = await make_provider(setup, small, ops)
    finally:
        await setup.close()
    async with serve_app(small, conn_provider=None) as client:
        pool: asyncpg.Pool = client._transport.app.state.pool  # type: ignore[attr-defined]
        paths = [f"/providers/{uuid.uuid4()}/licences", f"/providers/{other.provider_id}/locations"]
        for _ in range(10 * POOL_MAX):
            for path in paths:
                unknown = await client.get(path, headers=token(ops if "licences" in path else me))
                assert unknown.status_code == 404, unknown.text
            # Checked before the event loop may run anything a collector scheduled.
            assert (pool.get_size(), pool.get_idle_size()) == (POOL_MAX, POOL_MAX)
        # Each 404's transaction ended (rolled back), and the pool still serves: no 503.
        own = await client.get(f"/providers/{me.provider_id}/licences", headers=token(me))
        assert own.status_code == 200, own.text
