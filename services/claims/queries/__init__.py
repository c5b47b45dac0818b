"""SQL for claims, their lines, versions, status history and the platform's charges.

Foreign tables read: payers (timely_filing_days: a claim's filing deadline is its service date
plus the payer's window, read live).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from schemas.claims import (
    ClaimIn,
    ClaimLineOut,
    ClaimOut,
    OpsFlagRow,
)
from services.core import audit
from services.core.db import to_struct, to_structs

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
# A claim some payer's 277CA accepted (its history says so).
ACCEPTED = """
    EXISTS (SELECT 1 FROM claim_status_history a
            WHERE a.claim_id = c.id AND a.to_status = 'accepted')
"""
_LINE_COLUMNS = """
    line_number, cpt_code, modifiers, charge_cents, allowed_cents, provider_rate_cents, units,
    diagnosis_pointers, line_control_number
"""


# The platform's charge in force on $2 of each code in $1 that has one.
_CHARGES = """
    SELECT DISTINCT ON (cpt_code) cpt_code, charge_cents
    FROM platform_charges
    WHERE cpt_code = ANY($1::text[]) AND effective_from <= $2
    ORDER BY cpt_code, effective_from DESC
"""


async def get_charges(conn: asyncpg.Connection, cpt_codes: list[str], on: date) -> dict[str, int]:
    """The platform's charge in force on `on` for each code that has one."""
    rows = await conn.fetch(_CHARGES, cpt_codes, on)
    return {row["cpt_code"]: row["charge_cents"] for row in rows}


async def next_claim_number_and_charges(
    conn: asyncpg.Connection, cpt_codes: list[str], on: date
) -> tuple[int, dict[str, int]]:
    """A new claim's number and the platform's charges in force on `on` (one round trip; a
    number taken by a claim that is then refused is a gap, as after any rollback)."""
    row = await conn.fetchrow(
        "WITH c AS ("  # noqa: S608 (constant fragments, no input)
        + _CHARGES
        + """)
        SELECT nextval('claim_number_seq') AS number,
               array(SELECT cpt_code FROM c ORDER BY cpt_code) AS codes,
               array(SELECT charge_cents FROM c ORDER BY cpt_code) AS charges
        """,
        cpt_codes,
        on,
    )
    assert row is not None
    return row["number"], dict(zip(row["codes"], row["charges"], strict=True))


# A new claim with its lines, its first version (frequency 1), its `ready` history row and
# its audit row, in one statement: nothing is written when the session already has a claim
# with this payer (the claims CTE then returns no row).
_NEW_CLAIM = (
    """
    WITH c AS (
        INSERT INTO claims (therapy_session_id, payer_id, policy_id, provider_id, client_id,
                            claim_number, service_date, place_of_service, diagnosis_codes,
                            prior_authorization_id, total_charge_cents, allowed_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (therapy_session_id, payer_id) DO NOTHING
        RETURNING id
    ), lines AS (
        INSERT INTO claim_lines (claim_id, line_number, cpt_code, modifiers, charge_cents,
                                 allowed_cents, provider_rate_cents, units, diagnosis_pointers,
                                 line_control_number)
        SELECT c.id, l.n, l.code, string_to_array(l.mods, ','), l.charge, l.allowed, l.rate,
               l.units, string_to_array(l.ptrs, ',')::smallint[], l.control
        FROM c, unnest($13::smallint[], $14::text[], $15::text[], $16::bigint[], $17::bigint[],
                       $18::bigint[], $19::int[], $20::text[], $21::text[])
                AS l (n, code, mods, charge, allowed, rate, units, ptrs, control)
    ), v AS (
        INSERT INTO claim_submissions (claim_id, version, frequency, clm01)
        SELECT c.id, 1, '1', $22 FROM c
    ), h AS (
        INSERT INTO claim_status_history (claim_id, from_status, to_status, reason,
                                          actor_user_id, at)
        SELECT c.id, NULL, 'ready', $23, $24, $25 FROM c
    ), """  # noqa: S608 (core's constant audit CTE)
    + audit.create_rows("c", 26)
    + """
    SELECT id FROM c
    """
)


async def insert_new_claim(
    conn: asyncpg.Connection,
    data: ClaimIn,
    claim_number: str,
    lines: list[ClaimLineOut],
    clm01: str,
    history: tuple[str, uuid.UUID | None, datetime],
    written_by: audit.Author,
) -> uuid.UUID | None:
    """The new claim's id; None when the session already has a claim with this payer.
    `history`: the reason, user and time of its `ready` row."""
    claim_id: uuid.UUID | None = await conn.fetchval(
        _NEW_CLAIM,
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
        sum(x.charge_cents for x in lines),
        sum(x.allowed_cents for x in lines),
        [x.line_number for x in lines],
        [x.cpt_code for x in lines],
        [",".join(x.modifiers) for x in lines],
        [x.charge_cents for x in lines],
        [x.allowed_cents for x in lines],
        [x.provider_rate_cents for x in lines],
        [x.units for x in lines],
        [",".join(map(str, x.diagnosis_pointers)) for x in lines],
        [x.line_control_number for x in lines],
        clm01,
        *history,
        *audit.create_args("claim", written_by),
    )
    return claim_id


async def insert_lines(
    conn: asyncpg.Connection, claim_id: uuid.UUID, lines: list[ClaimLineOut]
) -> None:
    await conn.executemany(
        """
        INSERT INTO claim_lines (claim_id, line_number, cpt_code, modifiers, charge_cents,
                                 allowed_cents, provider_rate_cents, units, diagnosis_pointers,
                                 line_control_number)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        [
            (
                claim_id,
                x.line_number,
                x.cpt_code,
                x.modifiers,
                x.charge_cents,
                x.allowed_cents,
                x.provider_rate_cents,
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
        + ACCEPTED
        + """
        RETURNING c.id""",
        today,
        warn_days,
        at,
    )
    return [row["id"] for row in rows]


async def update_claim_status(
    conn: asyncpg.Connection, claim_id: uuid.UUID, status: str, at: datetime
) -> None:
    await conn.execute(
        "UPDATE claims SET status = $2, updated_at = $3 WHERE id = $1", claim_id, status, at
    )


async def flag_for_ops(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    kind: str,
    reason: str,
    at: datetime,
    submission_id: uuid.UUID | None = None,
    unless_resolved_after: datetime | None = None,
) -> bool:
    """Raise the flag with a history row; False when this very flag (kind and version) is up
    already, or ops resolved one after `unless_resolved_after`."""
    found = await conn.fetchval(
        """
        WITH flagged AS (
            UPDATE claims SET needs_ops = true, ops_kind = $2, ops_reason = $3,
                              ops_submission_id = $4, ops_since = $5, updated_at = $5
            WHERE id = $1
              AND NOT (needs_ops AND ops_kind = $2
                       AND ops_submission_id IS NOT DISTINCT FROM $4)
              AND NOT EXISTS (
                  SELECT 1 FROM claim_status_history h
                  WHERE h.claim_id = $1 AND h.ops_event = 'resolved' AND h.at > $6)
            RETURNING id, status)
        INSERT INTO claim_status_history (claim_id, from_status, to_status, reason, at,
                                          ops_event)
        SELECT id, status, NULL, $3, $5, 'flagged' FROM flagged
        RETURNING claim_id
        """,
        claim_id,
        kind,
        reason[:500],
        submission_id,
        at,
        unless_resolved_after,
    )
    return found is not None


async def clear_ops_flag(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    *,
    kinds: tuple[str, ...] | None,
    submission_id: uuid.UUID | None,
    event: str,
    reason: str,
    actor_user_id: uuid.UUID | None,
    at: datetime,
) -> OpsFlagRow | None:
    """Lower the claim's flag if it is one of `kinds` (None: any) raised for `submission_id`
    (None: any), with a history row (`event` cleared or resolved); the flag lowered."""
    row = await conn.fetchrow(
        """
        WITH old AS (
            SELECT id, ops_kind, ops_reason, ops_since FROM claims
            WHERE id = $1 AND needs_ops
              AND ($2::text[] IS NULL OR ops_kind = ANY($2::text[]))
              AND ($3::uuid IS NULL OR ops_submission_id = $3)
            FOR UPDATE),
        lowered AS (
            UPDATE claims SET needs_ops = false, ops_kind = NULL, ops_reason = NULL,
                              ops_submission_id = NULL, ops_since = NULL, updated_at = $7
            FROM old WHERE claims.id = old.id
            RETURNING claims.id, claims.status),
        history AS (
            INSERT INTO claim_status_history (claim_id, from_status, to_status, reason,
                                              actor_user_id, at, ops_event)
            SELECT id, status, NULL, $5, $6, $7, $4 FROM lowered)
        SELECT id AS claim_id, ops_kind AS kind, ops_reason AS reason, ops_since AS since
        FROM old
        """,
        claim_id,
        None if kinds is None else list(kinds),
        submission_id,
        event,
        reason[:500],
        actor_user_id,
        at,
    )
    return to_struct(row, OpsFlagRow)


# Edits of a confirmed session within the edit window rewrite its claim while it is `ready`.


async def lock_claim_of_session(
    conn: asyncpg.Connection, session_id: uuid.UUID
) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM claims WHERE therapy_session_id = $1 FOR UPDATE", session_id
    )
    return found


async def update_claim_coding(
    conn: asyncpg.Connection,
    claim_id: uuid.UUID,
    data: ClaimIn,
    total_charge_cents: int,
    at: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE claims
        SET service_date = $2, place_of_service = $3, diagnosis_codes = $4,
            prior_authorization_id = $5, total_charge_cents = $6, allowed_cents = $7,
            updated_at = $8
        WHERE id = $1
        """,
        claim_id,
        data.service_date,
        data.place_of_service,
        data.diagnosis_codes,
        data.prior_authorization_id,
        total_charge_cents,
        sum(line.allowed_cents for line in data.lines),
        at,
    )


async def delete_lines(conn: asyncpg.Connection, claim_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM claim_lines WHERE claim_id = $1", claim_id)


async def lock_claim_statuses(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The claims' statuses, their rows locked in the order of their ids (no deadlock)."""
    rows = await conn.fetch(
        "SELECT id, status FROM claims WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE",
        claim_ids,
    )
    return {r["id"]: r["status"] for r in rows}


async def update_remitted_submissions(
    conn: asyncpg.Connection, numbers: dict[uuid.UUID, str]
) -> None:
    """The 835's CLP07 confirms or replaces each version's payer claim number (one the 277CA
    gave already is left alone: no row version, no index entry for nothing)."""
    await conn.execute(
        """
        UPDATE claim_submissions s SET payer_claim_number = w.number
        FROM unnest($1::uuid[], $2::text[]) AS w (id, number)
        WHERE s.id = w.id AND s.payer_claim_number IS DISTINCT FROM w.number
        """,
        list(numbers),
        list(numbers.values()),
    )


async def update_claim_statuses(
    conn: asyncpg.Connection, statuses: dict[uuid.UUID, str], at: datetime
) -> None:
    await conn.execute(
        """
        UPDATE claims c SET status = w.status, updated_at = $3
        FROM unnest($1::uuid[], $2::text[]) AS w (id, status) WHERE c.id = w.id
        """,
        list(statuses),
        list(statuses.values()),
        at,
    )


async def insert_histories(
    conn: asyncpg.Connection,
    rows: list[tuple[uuid.UUID, str, str, str]],
    at: datetime,
) -> None:
    """History rows (claim, from, to, reason) by no one (a system event), in this order."""
    await conn.execute(
        """
        INSERT INTO claim_status_history (claim_id, from_status, to_status, reason, at)
        SELECT claim_id, from_status, to_status, reason, $5
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
            AS w (claim_id, from_status, to_status, reason, n)
        ORDER BY n
        """,
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], at,
    )  # fmt: skip
