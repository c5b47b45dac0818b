"""SQL for claim batches: selecting ready claims, batches, their files and acknowledgements.

Foreign tables read: the 837P is written from one statement over payers, insurance_policies,
clients, providers, provider_locations and prior_authorizations.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from schemas.claims import (
    BatchClaimRow,
    BatchLineRow,
    BatchMember,
    ClaimBatchRow,
)
from services.core.db import to_struct, to_structs

_BATCH = """
    SELECT id, payer_id, payload_id, interchange_control, group_control, transaction_control,
           status, sent_at, ack_applied_at, results_applied_at
    FROM claim_batches
"""


async def list_payers_with_ready_claims(
    conn: asyncpg.Connection, ready_before: datetime
) -> list[uuid.UUID]:
    """Payers with a ready claim (not waiting on ops) that became ready before the cutoff."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT c.payer_id FROM claims c
        WHERE c.status = 'ready' AND NOT c.needs_ops
          AND (SELECT max(h.at) FROM claim_status_history h
               WHERE h.claim_id = c.id AND h.to_status = 'ready') <= $1
        """,
        ready_before,
    )
    return [row["payer_id"] for row in rows]


async def get_next_ready_at(conn: asyncpg.Connection, payer_id: uuid.UUID) -> datetime | None:
    """When the payer's longest-waiting ready claim (not waiting on ops) became ready."""
    found: datetime | None = await conn.fetchval(
        """
        SELECT min((SELECT max(h.at) FROM claim_status_history h
                    WHERE h.claim_id = c.id AND h.to_status = 'ready'))
        FROM claims c
        WHERE c.payer_id = $1 AND c.status = 'ready' AND NOT c.needs_ops
        """,
        payer_id,
    )
    return found


async def lock_ready_claims(
    conn: asyncpg.Connection, payer_id: uuid.UUID, ready_before: datetime
) -> list[uuid.UUID]:
    """The payer's ready claims past the hold, locked; a concurrent run skips them."""
    rows = await conn.fetch(
        """
        SELECT c.id FROM claims c
        WHERE c.payer_id = $1 AND c.status = 'ready' AND NOT c.needs_ops
          AND (SELECT max(h.at) FROM claim_status_history h
               WHERE h.claim_id = c.id AND h.to_status = 'ready') <= $2
        ORDER BY c.created_at, c.id
        FOR UPDATE SKIP LOCKED
        """,
        payer_id,
        ready_before,
    )
    return [row["id"] for row in rows]


async def list_pending_batches(
    conn: asyncpg.Connection, payer_id: uuid.UUID
) -> list[ClaimBatchRow]:
    """Batches committed but never answered (a crash or an outage between commit and call)."""
    rows = await conn.fetch(
        _BATCH + " WHERE payer_id = $1 AND status = 'pending' ORDER BY created_at, id", payer_id
    )
    return to_structs(rows, ClaimBatchRow)


async def list_open_batches(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """Sent batches whose 277CA has not been applied yet."""
    rows = await conn.fetch(
        "SELECT id FROM claim_batches WHERE status = 'sent' AND results_applied_at IS NULL"
    )
    return [row["id"] for row in rows]


async def insert_batch(
    conn: asyncpg.Connection,
    payer_id: uuid.UUID,
    payload_id: uuid.UUID,
    control: tuple[int, int, str],
    claim_count: int,
    at: datetime,
) -> uuid.UUID:
    batch_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO claim_batches (payer_id, payload_id, interchange_control, group_control,
                                   transaction_control, claim_count, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id
        """,
        payer_id,
        payload_id,
        *control,
        claim_count,
        at,
    )
    return batch_id


async def attach_to_batch(
    conn: asyncpg.Connection, batch_id: uuid.UUID, claim_ids: list[uuid.UUID]
) -> int:
    """Put each claim's current version in the batch (a version goes in one batch at most)."""
    result: str = await conn.execute(
        """
        UPDATE claim_submissions s SET batch_id = $1
        FROM (SELECT DISTINCT ON (claim_id) id FROM claim_submissions
              WHERE claim_id = ANY($2::uuid[]) ORDER BY claim_id, version DESC) latest
        WHERE s.id = latest.id AND s.batch_id IS NULL
        """,
        batch_id,
        claim_ids,
    )
    return int(result.rsplit(" ", 1)[-1])


async def get_batch(conn: asyncpg.Connection, batch_id: uuid.UUID) -> ClaimBatchRow | None:
    return to_struct(await conn.fetchrow(_BATCH + " WHERE id = $1", batch_id), ClaimBatchRow)


async def lock_batch(conn: asyncpg.Connection, batch_id: uuid.UUID) -> ClaimBatchRow | None:
    return to_struct(
        await conn.fetchrow(_BATCH + " WHERE id = $1 FOR UPDATE", batch_id), ClaimBatchRow
    )


async def list_claims_to_send(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> list[BatchClaimRow]:
    """The claims' current versions with what their 837P loops need."""
    rows = await conn.fetch(
        """
        SELECT c.id AS claim_id, s.clm01, s.frequency,
               -- REF*F8: the number the payer gave the latest version it accepted
               (SELECT a.payer_claim_number FROM claim_submissions a
                WHERE a.claim_id = c.id AND a.payer_claim_number IS NOT NULL
                ORDER BY a.version DESC LIMIT 1) AS payer_claim_number,
               c.total_charge_cents, c.place_of_service,
               c.diagnosis_codes, c.service_date, pa.number AS prior_authorization,
               py.name AS payer_name, py.x12_payer_id, py.claim_filing_indicator,
               p.member_id, p.group_number, p.relationship, p.subscriber_first_name,
               p.subscriber_last_name, p.subscriber_date_of_birth, p.subscriber_sex,
               p.patient_member_id,
               cl.first_name, cl.last_name, cl.date_of_birth, cl.sex, cl.address_line1,
               cl.address_line2, cl.city, cl.state, cl.zip,
               pr.npi AS provider_npi, pr.first_name AS provider_first_name,
               pr.last_name AS provider_last_name, pr.taxonomy_code AS provider_taxonomy,
               loc.name AS facility_name, loc.address_line1 AS facility_line1,
               loc.address_line2 AS facility_line2, loc.city AS facility_city,
               loc.state AS facility_state, loc.zip AS facility_zip
        FROM claims c
        JOIN LATERAL (
            SELECT clm01, frequency FROM claim_submissions
            WHERE claim_id = c.id ORDER BY version DESC LIMIT 1
        ) s ON true
        JOIN payers py ON py.id = c.payer_id
        JOIN insurance_policies p ON p.id = c.policy_id
        JOIN clients cl ON cl.id = c.client_id
        JOIN providers pr ON pr.id = c.provider_id
        LEFT JOIN prior_authorizations pa ON pa.id = c.prior_authorization_id
        -- An office session is billed with its office (2310C): the provider's latest one.
        LEFT JOIN LATERAL (
            SELECT l.name, l.address_line1, l.address_line2, l.city, l.state, l.zip
            FROM provider_locations l
            WHERE l.provider_id = c.provider_id AND l.place_of_service = '11'
              AND c.place_of_service = '11'
            ORDER BY l.created_at DESC, l.id LIMIT 1
        ) loc ON true
        WHERE c.id = ANY($1::uuid[])
        ORDER BY c.created_at, c.id
        """,
        claim_ids,
    )
    return to_structs(rows, BatchClaimRow)


async def list_lines_of(conn: asyncpg.Connection, claim_ids: list[uuid.UUID]) -> list[BatchLineRow]:
    rows = await conn.fetch(
        """
        SELECT claim_id, line_number, cpt_code, modifiers, charge_cents, units,
               diagnosis_pointers, line_control_number
        FROM claim_lines WHERE claim_id = ANY($1::uuid[])
        ORDER BY claim_id, line_number
        """,
        claim_ids,
    )
    return to_structs(rows, BatchLineRow)


async def lock_batch_members(conn: asyncpg.Connection, batch_id: uuid.UUID) -> list[BatchMember]:
    """The batch's claims, locked before their statuses change."""
    rows = await conn.fetch(
        """
        SELECT c.id AS claim_id, s.id AS submission_id, s.clm01, s.frequency, c.status
        FROM claim_submissions s JOIN claims c ON c.id = s.claim_id
        WHERE s.batch_id = $1
        ORDER BY c.id
        FOR UPDATE OF c
        """,
        batch_id,
    )
    return to_structs(rows, BatchMember)


async def update_submission_ack(
    conn: asyncpg.Connection,
    submission_id: uuid.UUID,
    codes: list[str],
    payer_claim_number: str | None,
    accepted_on: date | None,
) -> None:
    """Add acknowledgement codes (each once); keep a claim number or date already recorded."""
    await conn.execute(
        """
        UPDATE claim_submissions
        SET ack_codes = ack_codes || ARRAY(
                SELECT code FROM unnest($2::text[]) WITH ORDINALITY AS given (code, n)
                WHERE code <> ALL (ack_codes) ORDER BY n),
            payer_claim_number = coalesce(payer_claim_number, $3),
            accepted_on = coalesce(accepted_on, $4)
        WHERE id = $1
        """,
        submission_id,
        codes,
        payer_claim_number,
        accepted_on,
    )


async def update_batch_sent(conn: asyncpg.Connection, batch_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        """
        UPDATE claim_batches SET status = 'sent', sent_at = $2, last_error = NULL
        WHERE id = $1 AND status = 'pending'
        """,
        batch_id,
        at,
    )


async def update_batch_error(conn: asyncpg.Connection, batch_id: uuid.UUID, error: str) -> None:
    await conn.execute(
        "UPDATE claim_batches SET last_error = $2 WHERE id = $1", batch_id, error[:500]
    )


async def update_batch_applied(
    conn: asyncpg.Connection, batch_id: uuid.UUID, *, ack: datetime | None, results: datetime | None
) -> None:
    await conn.execute(
        """
        UPDATE claim_batches
        SET ack_applied_at = coalesce(ack_applied_at, $2),
            results_applied_at = coalesce(results_applied_at, $3)
        WHERE id = $1
        """,
        batch_id,
        ack,
        results,
    )


async def insert_batch_file(
    conn: asyncpg.Connection,
    batch_id: uuid.UUID,
    direction: str,
    payload_type: str,
    payload_id: uuid.UUID,
    body: str,
    at: datetime,
    error: tuple[str, str] | None = None,
) -> None:
    code, message = error if error is not None else (None, None)
    await conn.execute(
        """
        INSERT INTO claim_batch_files (batch_id, direction, payload_type, payload_id,
                                       error_code, error_message, body, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        batch_id,
        direction,
        payload_type,
        payload_id,
        code and code[:100],
        message and message[:1000],
        body,
        at,
    )


async def get_sent_file(conn: asyncpg.Connection, batch_id: uuid.UUID, payload_type: str) -> str:
    """The 837P written for the batch (re-sent as it was: same PayloadID, same checksum)."""
    body: str = await conn.fetchval(
        """
        SELECT body FROM claim_batch_files
        WHERE batch_id = $1 AND direction = 'sent' AND payload_type = $2 ORDER BY id LIMIT 1
        """,
        batch_id,
        payload_type,
    )
    return body
