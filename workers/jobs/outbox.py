"""The outbox relay, run by cron every few seconds."""

from __future__ import annotations

from typing import Any

from services.core import clock, outbox


async def relay_outbox(ctx: dict[str, Any]) -> int:
    """Hand due outbox rows to arq (and again those whose job never finished)."""
    visibility_s = ctx["settings"].outbox_visibility_s
    return await outbox.relay(
        ctx["pool"],
        ctx["redis"],
        clock.now(),
        namespace=ctx["settings"].redis_namespace,
        visibility_s=visibility_s,
        budget_s=min(outbox.TICK_BUDGET_S, visibility_s / 2),
    )
