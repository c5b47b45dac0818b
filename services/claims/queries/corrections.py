"""SQL for claim corrections: the claim locked, its versions' state, its coding rewritten.

Foreign tables read: none.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.claims import ClaimVersionState
from services.core.db import to_struct


async def lock_claim(conn: asyncpg.Connection, claim_id: uuid.UUID) -> str | None:
    """The claim's status, its row locked before a correction changes it (None: no claim)."""
    status: str | None = await conn.fetchval(
        "SELECT status FROM claims WHERE id = $1 FOR UPDATE", claim_id
    )
    return status


async def get_version_state(conn: asyncpg.Connection, claim_id: uuid.UUID) -> ClaimVersionState:
    """The latest version, the payer's latest claim number, whether a void was ever made, and
    the version still waiting to be sent (at most one: claim_submissions_one_unsent)."""
    row = await conn.fetchrow(
        """
        SELECT max(version) AS version,
               (array_agg(payer_claim_number ORDER BY version DESC)
                    FILTER (WHERE payer_claim_number IS NOT NULL))[1] AS payer_claim_number,
               coalesce(bool_or(frequency = '8'), false) AS voided,
               max(version) FILTER (WHERE batch_id IS NULL) AS unsent_version
        FROM claim_submissions WHERE claim_id = $1
        """,
        claim_id,
    )
    found = to_struct(row, ClaimVersionState)
    assert found is not None  # an aggregate always returns its row
    return found


async def update_coding(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    place_of_service: str,
    diagnosis_codes: list[str],
    amounts: tuple[int, int],
    at: datetime,
) -> None:
    """The corrected claim's place of service, diagnoses, total charge and allowed amount."""
    await conn.execute(
        """
        UPDATE claims SET place_of_service = $2, diagnosis_codes = $3,
                          total_charge_cents = $4, allowed_cents = $5, updated_at = $6
        WHERE id = $1
        """,
        claim_id,
        place_of_service,
        diagnosis_codes,
        *amounts,
        at,
    )


async def update_to_ready(conn: asyncpg.Connection, claim_id: uuid.UUID, at: datetime) -> None:
    """Back to `ready` for the submission job (its ops flag is lowered by clear_ops_flag)."""
    await conn.execute(
        "UPDATE claims SET status = 'ready', updated_at = $2 WHERE id = $1",
        claim_id,
        at,
    )


async def update_authorization_returned(
    conn: asyncpg.Connection, claim_id: uuid.UUID, at: datetime
) -> bool:
    """Mark the claim's authorization visit given back; False when it was already."""
    done = await conn.fetchval(
        """
        UPDATE claims SET authorization_returned_at = $2
        WHERE id = $1 AND authorization_returned_at IS NULL AND prior_authorization_id IS NOT NULL
        RETURNING true
        """,
        claim_id,
        at,
    )
    return bool(done)
