"""The PHI access trail: one append-only row per record read or written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import asyncpg

from services.core.auth import Actor
from services.core.logging import current_request_id

# "read_x12": the raw 270/271 of a benefit check, every identifier of the exchange at once.
Action = Literal["read", "read_x12", "create", "update", "delete"]


# actor_user_id, actor_role, request_id: who an audit row names, for a statement that writes
# its row itself (a record and its audit row in one statement).
Author = tuple[uuid.UUID | None, str, str | None]


def author(actor: Actor) -> Author:
    """The audit columns naming `actor` (SYSTEM: no user, role "system") in this request."""
    return actor.user_id, actor.role, current_request_id()


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: Action,
    entity: str,
    entity_ids: Sequence[uuid.UUID],
) -> None:
    """Write one audit row per record."""
    if not entity_ids:
        return
    user_id, role, request_id = author(actor)
    await conn.execute(
        """
        INSERT INTO audit_events (actor_user_id, actor_role, action, entity, entity_id, request_id)
        SELECT $1, $2, $3, $4, unnest($5::uuid[]), $6
        """,
        user_id,
        role,
        action,
        entity,
        list(entity_ids),
        request_id,
    )
