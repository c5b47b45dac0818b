"""The PHI access trail: one append-only row per record read or written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import asyncpg

from services.core.auth import Actor
from services.core.logging import current_request_id

# "read_x12": a raw X12 file (a benefit check's 270/271, a claim batch's 837P, 999 or 277CA),
# every identifier of the exchange at once.
Action = Literal["read", "read_x12", "create", "update", "delete"]


# actor_user_id, actor_role, request_id: who an audit row names, for a statement that writes
# its row itself (a record and its audit row in one statement).
Author = tuple[uuid.UUID | None, str, str | None]


def author(actor: Actor) -> Author:
    """The audit columns naming `actor` (SYSTEM: no user, role "system") in this request."""
    return actor.user_id, actor.role, current_request_id()


def create_rows(source: str, first: int, action: Action = "create") -> str:
    """SQL of a CTE writing the `action` audit row of each row CTE `source` returns, for a
    statement that stores records and their audit rows at once (atomic without BEGIN/COMMIT).

    Its parameters are $first to $first + 4, in the order of `create_args`.
    """
    # Only a CTE name, parameter numbers and an Action, all from the caller's code, are put
    # in the text.
    n = [f"${first + i}" for i in range(5)]
    columns = "(actor_user_id, actor_role, action, entity, entity_id, request_id)"
    values = f"{n[1]}, {n[2]}, '{action}', {n[0]}, {source}.id, {n[3]}"
    select = f"SELECT {values} FROM {source} WHERE {n[4]}"  # noqa: S608 (see above)
    return f"audited AS (INSERT INTO audit_events {columns} {select})"


def create_args(entity: str, written_by: Author | None) -> tuple[object, ...]:
    """The parameters of `create_rows`: `written_by` None writes no audit row."""
    user_id, role, request_id = written_by or (None, "system", None)
    return entity, user_id, role, request_id, written_by is not None


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
