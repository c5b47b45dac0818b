"""What ops settle after the posting: the files the clearinghouse served that we refused, and
the reversals still waiting for their correction (issue 16 items 2 and 3)."""

from __future__ import annotations

import uuid

import asyncpg

from schemas.remittance_ops import (
    AwaitingCorrectionOut,
    RefusalFilter,
    RefusalOut,
    RefusalResolutionIn,
)
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pagination import Page, page_of
from services.remittance.errors import RefusalNotFound, RefusalResolved
from services.remittance.queries import corrections, refusals

# The refused file's error may quote its values (an amount): a read is audited like the claims'.
REFUSAL_ENTITY = "remittance_refusal"
CLAIM_ENTITY = "remitted_claim"


async def list_refusals(
    conn: asyncpg.Connection, actor: Actor, status: RefusalFilter, limit: int, cursor: str | None
) -> Page[RefusalOut]:
    """Refused files in `status`, oldest first."""
    page = await page_of(
        lambda after, n: refusals.list_refusals(conn, status, after, n), cursor, limit
    )
    await audit.record(conn, actor, "read", REFUSAL_ENTITY, [r.id for r in page.items])
    return page


async def resolve_refusal(
    conn: asyncpg.Connection, actor: Actor, refusal_id: uuid.UUID, data: RefusalResolutionIn
) -> RefusalOut:
    """Ops dismiss a refused file they settled with the payer, saying how (409: done before)."""
    if not await refusals.update_refusal_resolved(
        conn, refusal_id, clock.now(), actor.user, data.note
    ):
        if await refusals.get_refusal(conn, refusal_id) is None:
            raise RefusalNotFound("refused file not found")
        raise RefusalResolved("the refused file was resolved already", field="refusal_id")
    found = await refusals.get_refusal(conn, refusal_id)
    assert found is not None
    await audit.record(conn, actor, "update", REFUSAL_ENTITY, [refusal_id])
    return found


async def list_awaiting_correction(
    conn: asyncpg.Connection, actor: Actor, days: int, limit: int, cursor: str | None
) -> Page[AwaitingCorrectionOut]:
    """Claims reversed more than `days` ago with no correction since, longest waiting first."""
    now = clock.now()
    page = await page_of(
        lambda after, n: corrections.list_awaiting_correction(conn, now, days, after, n),
        cursor,
        limit,
    )
    await audit.record(conn, actor, "read", CLAIM_ENTITY, [r.id for r in page.items])
    return page
