"""The morning job that stores yesterday's ops digest."""

from __future__ import annotations

import logging
from typing import Any

from services.ops.service import store_digest, yesterday

log = logging.getLogger(__name__)


async def store_ops_digest(ctx: dict[str, Any]) -> dict[str, object]:
    """Safe to run twice or concurrently: the day is UNIQUE, and a stored digest is kept."""
    day = yesterday()
    async with ctx["pool"].acquire() as conn, conn.transaction():
        stored = await store_digest(conn, ctx["settings"], day)
    log.info("ops digest", extra={"job": "store_ops_digest", "day": day.isoformat(),
                                  "stored": stored})  # fmt: skip
    return {"day": day.isoformat(), "stored": stored}
