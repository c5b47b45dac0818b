"""SQL for claims, their lines, versions, status history, batches and the platform's charges.

Foreign tables read: payers (timely_filing_days: a claim's filing deadline is its service date
plus the payer's window, read live); and, for the batch queries, which write an 837P in one
statement: payers, insurance_policies, clients, providers, provider_locations and
prior_authorizations.
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
    ClaimHistoryOut,
    ClaimIn,
    ClaimLineOut,
    ClaimOut,
    ClaimSummaryOut,
    ClaimVersionOut,
    RejectedClaimOut,
    SessionClaimOut,
)
from services.core.db import to_struct, to_structs
from services.core.pagination import After, fetch_page
from services.core.scope import Scope

_CLAIM = """
    SELECT c.id, c.therapy_session_id, c.payer_id, c.policy_id, c.provider_id, c.client_id,
           c.claim_number,
           (SELECT s.clm01 FROM claim_submissions s WHERE s.claim_id = c.id
            ORDER BY s.version DESC LIMIT 1) AS clm01,
           c.status, c.service_date, c.place_of_service, c.diagnosis_codes,
           c.prior_authorization_id, c.total_charge_cents, c.allowed_cents, c.created_at,
           c.updated_at
    FROM claims c
"""
_LINE_COLUMNS = """
    line_number, cpt_code, modifiers, charge_cents, allowed_cents, units, diagnosis_pointers,
    line_control_number
"""


async def get_charges(conn: asyncpg.Connection, cpt_codes: list[str], on: date) -> dict[str, int]:
    """The platform's charge in force on `on` for each code that has one."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (cpt_code) cpt_code, charge_cents
        FROM platform_charges
        WHERE cpt_code = ANY($1::text[]) AND effective_from <= $2
        ORDER BY cpt_code, effective_from DESC
        """,
        cpt_codes,
        on,
    )
    return {row["cpt_code"]: row["charge_cents"] for row in rows}


async def next_claim_number(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('claim_number_seq')")
    return value


async def insert_claim(
    conn: asyncpg.Connection, data: ClaimIn, claim_number: str, total_charge_cents: int
) -> uuid.UUID | None:
    """The new claim's id; None when the session already has a claim with this payer."""
    claim_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO claims (therapy_session_id, payer_id, policy_id, provider_id, client_id,
                            claim_number, service_date, place_of_service, diagnosis_codes,
                            prior_authorization_id, total_charge_cents, allowed_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (therapy_session_id, payer_id) DO NOTHING
        RETURNING id
        """,
        data.therapy_session_id,
        data.payer_id,
        data.policy_id,
        data.provider_id,
        data.client_id,
        claim_number,
        data.service_date,
        data.place_of_service,
        data.diagnosis_codes,
        data.prior_authorization_id,
        total_charge_cents,
        sum(line.allowed_cents for line in data.lines),
    )
    return claim_id


async def insert_lines(
    conn: asyncpg.Connection, claim_id: uuid.UUID, lines: list[ClaimLineOut]
) -> None:
    await conn.executemany(
        """
        INSERT INTO claim_lines (claim_id, line_number, cpt_code, modifiers, charge_cents,
                                 allowed_cents, units, diagnosis_pointers, line_control_number)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        [
            (
                claim_id,
                x.line_number,
                x.cpt_code,
                x.modifiers,
                x.charge_cents,
                x.allowed_cents,
                x.units,
                x.diagnosis_pointers,
                x.line_control_number,
            )
            for x in lines
        ],
    )


async def insert_submission(
    conn: asyncpg.Connection, claim_id: uuid.UUID, version: int, frequency: str, clm01: str
) -> None:
    await conn.execute(
        """
        INSERT INTO claim_submissions (claim_id, version, frequency, clm01)
        VALUES ($1, $2, $3, $4)
        """,
        claim_id,
        version,
        frequency,
        clm01,
    )


async def insert_history(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    from_status: str | None,
    to_status: str,
    reason: str,
    actor_user_id: uuid.UUID | None,
    at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO claim_status_history (claim_id, from_status, to_status, reason,
                                          actor_user_id, at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        claim_id,
        from_status,
        to_status,
        reason,
        actor_user_id,
        at,
    )


async def get_claim(conn: asyncpg.Connection, claim_id: uuid.UUID) -> ClaimOut | None:
    claim = to_struct(await conn.fetchrow(_CLAIM + " WHERE c.id = $1", claim_id), ClaimOut)
    if claim is None:
        return None
    rows = await conn.fetch(
        "SELECT" + _LINE_COLUMNS + "FROM claim_lines WHERE claim_id = $1 ORDER BY line_number",
        claim_id,
    )
    claim.lines = to_structs(rows, ClaimLineOut)
    return claim


async def get_claim_of_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM claims WHERE therapy_session_id = $1", session_id
    )
    return found


# The claims API's reads. $1 and $2 of every one are the owner scope (services/core/scope.py):
# a provider sees their claims, a client their own, ops and the system every one.
_SUMMARY = """
    SELECT c.id, c.therapy_session_id, c.payer_id, c.provider_id, c.client_id, c.claim_number,
           c.status, c.service_date, c.total_charge_cents,
           c.service_date + p.timely_filing_days AS filing_deadline, c.filing_flagged_at,
           c.created_at, c.updated_at
"""
_VISIBLE = "($1::uuid IS NULL OR c.provider_id = $1 OR c.client_id = $2)"
_SCOPED = (
    """
    FROM claims c JOIN payers p ON p.id = c.payer_id
    WHERE """
    + _VISIBLE
)
_ACCEPTED = """
    EXISTS (SELECT 1 FROM claim_status_history a
            WHERE a.claim_id = c.id AND a.to_status = 'accepted')
"""


async def list_claims(
    conn: asyncpg.Connection,
    scope: Scope,
    status: str | None,
    after: After | None,
    limit: int,
) -> list[ClaimSummaryOut]:
    query = _SUMMARY + _SCOPED + " AND ($3::text IS NULL OR c.status = $3)"
    return await fetch_page(
        conn, ClaimSummaryOut, query, *scope, status, after=after, limit=limit, alias="c"
    )


async def list_rejected(
    conn: asyncpg.Connection, after: After | None, limit: int
) -> list[RejectedClaimOut]:
    """Rejected claims with their latest rejection's reason (ops: no owner scope)."""
    query = (
        _SUMMARY  # noqa: S608 (constant fragments, no input)
        + """,
           r.reason, r.at AS rejected_at
    FROM claims c JOIN payers p ON p.id = c.payer_id
    CROSS JOIN LATERAL (
        SELECT h.reason, h.at FROM claim_status_history h
        WHERE h.claim_id = c.id AND h.to_status = 'rejected'
        ORDER BY h.id DESC LIMIT 1) r
    WHERE c.status = 'rejected'"""
    )
    return await fetch_page(conn, RejectedClaimOut, query, after=after, limit=limit, alias="c")


async def list_filing_deadlines(
    conn: asyncpg.Connection, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[ClaimSummaryOut]:
    """Flagged claims not yet accepted, soonest deadline first (keyset on deadline, id)."""
    deadline, last_id = after or (None, None)
    rows = await conn.fetch(
        _SUMMARY
        + """
        FROM claims c JOIN payers p ON p.id = c.payer_id
        WHERE c.filing_flagged_at IS NOT NULL AND NOT"""
        + _ACCEPTED
        + """
          AND ($1::date IS NULL
               OR (c.service_date + p.timely_filing_days, c.id) > ($1, $2::uuid))
        ORDER BY c.service_date + p.timely_filing_days, c.id
        LIMIT $3""",
        deadline,
        last_id,
        limit,
    )
    return to_structs(rows, ClaimSummaryOut)


async def get_visible_claim(
    conn: asyncpg.Connection, scope: Scope, claim_id: uuid.UUID
) -> ClaimSummaryOut | None:
    row = await conn.fetchrow(_SUMMARY + _SCOPED + " AND c.id = $3", *scope, claim_id)
    return to_struct(row, ClaimSummaryOut)


async def list_history(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[ClaimHistoryOut]:
    rows = await conn.fetch(
        """
        SELECT from_status, to_status, reason, actor_user_id, at
        FROM claim_status_history WHERE claim_id = $1 ORDER BY id
        """,
        claim_id,
    )
    return to_structs(rows, ClaimHistoryOut)


async def list_versions(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[ClaimVersionOut]:
    rows = await conn.fetch(
        """
        SELECT id, version, frequency, clm01, created_at
        FROM claim_submissions WHERE claim_id = $1 ORDER BY version
        """,
        claim_id,
    )
    return to_structs(rows, ClaimVersionOut)


async def list_session_claims(
    conn: asyncpg.Connection, scope: Scope, session_id: uuid.UUID
) -> list[SessionClaimOut]:
    """The claims of a session the caller may see, with the time of their latest status."""
    rows = await conn.fetch(
        """
        SELECT c.id AS claim_id, c.therapy_session_id, c.status, c.service_date,
               (SELECT max(h.at) FROM claim_status_history h WHERE h.claim_id = c.id)
                   AS status_since
        FROM claims c
        WHERE c.therapy_session_id = $3 AND """  # noqa: S608 (constant fragments, no input)
        + _VISIBLE
        + " ORDER BY c.created_at, c.id",
        *scope,
        session_id,
    )
    return to_structs(rows, SessionClaimOut)


async def update_flag_filing_deadlines(
    conn: asyncpg.Connection, today: date, warn_days: int, at: datetime
) -> list[uuid.UUID]:
    """Flag, once, each claim not yet accepted whose deadline is within `warn_days` of today.

    One UPDATE that skips flagged rows: two runs (or two at once, the second waiting on the
    first's row locks and re-checking) flag each claim once.
    """
    rows = await conn.fetch(
        """
        UPDATE claims c SET filing_flagged_at = $3
        FROM payers p
        WHERE p.id = c.payer_id AND c.filing_flagged_at IS NULL
          AND c.service_date + p.timely_filing_days <= $1::date + $2::int
          -- implied by the line above (a window is never negative), and sargable: the
          -- partial index of unflagged claims by service date finds the candidates
          AND c.service_date <= $1::date + $2::int
          AND NOT"""  # noqa: S608 (constant fragments, no input)
        + _ACCEPTED
        + """
        RETURNING c.id""",
        today,
        warn_days,
        at,
    )
    return [row["id"] for row in rows]


# -- Submission (issue 15 item 5) -----------------------------------------------------------

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
        SELECT c.id AS claim_id, s.clm01, s.frequency, c.total_charge_cents, c.place_of_service,
               c.diagnosis_codes, c.service_date, pa.number AS prior_authorization,
               py.name AS payer_name, py.x12_payer_id,
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
        SELECT c.id AS claim_id, s.id AS submission_id, s.clm01, c.status
        FROM claim_submissions s JOIN claims c ON c.id = s.claim_id
        WHERE s.batch_id = $1
        ORDER BY c.id
        FOR UPDATE OF c
        """,
        batch_id,
    )
    return to_structs(rows, BatchMember)


async def update_claim_status(
    conn: asyncpg.Connection, claim_id: uuid.UUID, status: str, at: datetime
) -> None:
    await conn.execute(
        "UPDATE claims SET status = $2, updated_at = $3 WHERE id = $1", claim_id, status, at
    )


async def flag_for_ops(
    conn: asyncpg.Connection, claim_id: uuid.UUID, reason: str, at: datetime
) -> None:
    await conn.execute(
        "UPDATE claims SET needs_ops = true, ops_reason = $2, updated_at = $3 WHERE id = $1",
        claim_id,
        reason[:500],
        at,
    )


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
