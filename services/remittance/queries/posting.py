"""SQL of the 835 posting: files, payments, remitted claims, lines, adjustments, PLBs.

Foreign tables read: claim_submissions, claims and claim_lines (a CLP matched to its claim by
CLP01 = CLM01, a line by REF*6R), payers (the payment's payer by its X12 id; a claim's filing
window), and for the facts a loss is decided on (recoupment.py), in the match's one statement:
therapy_sessions (when the session was confirmed), provider_locations and clients (the state of
the service address), provider_licences (a licence valid there on the date of service).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg

# (remitted claim, line or None: claim level, group, CARC, signed cents, quantity, RARCs)
AdjustmentRow = tuple[uuid.UUID, uuid.UUID | None, str, str, int, Decimal | None, list[str]]


@dataclass(frozen=True)
class ClaimMatch:
    claim_id: uuid.UUID
    submission_id: uuid.UUID
    payer_id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    allowed_cents: int
    authorization_recorded: bool
    # The facts of loss_facts.py: the filing window (service date + the payer's days) and the
    # session's confirmation day (None: never confirmed), and whether the rendering provider
    # had no licence valid on the date of service in the service address's state (None: the
    # state is not known).
    service_date: date
    timely_filing_days: int
    confirmed_on: date | None
    licence_lapsed: bool | None


@dataclass(frozen=True)
class Original:
    """A remitted claim a reversal may negate."""

    id: uuid.UUID
    claim_id: uuid.UUID
    paid_cents: int


async def insert_file(
    conn: asyncpg.Connection,
    sha256: str,
    source: str,
    at: datetime,
    by: uuid.UUID | None,
    size: int,
    transactions: int,
    claims: int,
    payment_cents: int,
) -> uuid.UUID | None:
    """The file's row; None when this very file (its SHA-256) was stored before."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO remittance_files (sha256, source, received_at, received_by, byte_size,
                                      transactions, claims, payment_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (sha256) DO NOTHING RETURNING id
        """,
        sha256, source, at, by, size, transactions, claims, payment_cents,
    )  # fmt: skip
    return found


async def get_file_id(conn: asyncpg.Connection, sha256: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM remittance_files WHERE sha256 = $1", sha256
    )
    return found


async def insert_payment(
    conn: asyncpg.Connection,
    file_id: uuid.UUID,
    position: int,
    handling: str,
    amount_cents: int,
    method: str,
    payment_date: date,
    trace: tuple[str, str],
    payer: tuple[str, uuid.UUID | None],
    payee_npi: str | None,
    claims: int,
    paid_cents: int,
    provider_adjustment_cents: int,
    at: datetime,
) -> uuid.UUID | None:
    """The payment's row; None when its trace was posted before (by this file or another).

    A concurrent import of the same trace waits here on the UNIQUE index until the first
    commits, then finds it: a payment is posted once, ever.
    """
    found: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO remittance_payments (file_id, position, handling, amount_cents, method,
            payment_date, trace_number, trace_originator, payer_name, payer_id, payee_npi,
            claims, paid_cents, provider_adjustment_cents, posted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (trace_number, trace_originator) DO NOTHING RETURNING id
        """,
        file_id, position, handling, amount_cents, method, payment_date, trace[0], trace[1],
        payer[0], payer[1], payee_npi, claims, paid_cents, provider_adjustment_cents, at,
    )  # fmt: skip
    return found


async def get_payment_id(conn: asyncpg.Connection, trace: str, originator: str) -> uuid.UUID:
    found: uuid.UUID = await conn.fetchval(
        "SELECT id FROM remittance_payments WHERE trace_number = $1 AND trace_originator = $2",
        trace,
        originator,
    )
    return found


async def update_payment_ops(conn: asyncpg.Connection, payment_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE remittance_payments SET needs_ops = true, ops_reason = $2 WHERE id = $1",
        payment_id,
        reason[:500],
    )


async def get_payer_id(conn: asyncpg.Connection, x12_ids: list[str]) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM payers WHERE x12_payer_id = ANY($1::text[]) LIMIT 1", x12_ids
    )
    return found


# The state a session took place in, for its licence: an office session (11) the provider's
# office as the 837P names it (2310C: the latest office location); telehealth (02, 10) where the
# client is, which licensure follows: their home (10), or for 02 (elsewhere than home, a place
# we do not record) their address all the same. The client's address is the one on file now.
_MATCH = """
    SELECT s.claim_id, s.id AS submission_id, c.payer_id, c.provider_id, c.client_id,
           c.allowed_cents, c.prior_authorization_id IS NOT NULL AS authorization_recorded,
           c.service_date, py.timely_filing_days,
           (ts.confirmed_at AT TIME ZONE 'UTC')::date AS confirmed_on,
           CASE WHEN place.state IS NOT NULL THEN NOT EXISTS (
               SELECT 1 FROM provider_licences l
               WHERE l.provider_id = c.provider_id AND l.state = place.state
                 AND l.expires_on >= c.service_date) END AS licence_lapsed
    FROM claim_submissions s
    JOIN claims c ON c.id = s.claim_id
    JOIN payers py ON py.id = c.payer_id
    JOIN therapy_sessions ts ON ts.id = c.therapy_session_id
    JOIN clients cl ON cl.id = c.client_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN c.place_of_service = '11' THEN (
                   SELECT o.state FROM provider_locations o
                   WHERE o.provider_id = c.provider_id AND o.place_of_service = '11'
                   ORDER BY o.created_at DESC, o.id LIMIT 1)
               ELSE cl.state END AS state
    ) place
"""


async def get_claim_match(conn: asyncpg.Connection, clm01: str) -> ClaimMatch | None:
    """Our claim whose version was sent with this CLM01, with the facts a loss is decided on."""
    row = await conn.fetchrow(_MATCH + " WHERE s.clm01 = $1", clm01)
    return ClaimMatch(**dict(row)) if row is not None else None


async def get_claim_by_payer_number(conn: asyncpg.Connection, number: str) -> uuid.UUID | None:
    """The claim an earlier 835 gave this payer claim number (a PLB's PLB03-2)."""
    found: uuid.UUID | None = await conn.fetchval(
        """
        SELECT claim_id FROM remitted_claims
        WHERE payer_claim_number = $1 AND claim_id IS NOT NULL ORDER BY ordinal LIMIT 1
        """,
        number,
    )
    return found


async def lock_file_postings(conn: asyncpg.Connection) -> None:
    """One 835 file posting at a time: two files naming the same claims in opposite orders
    would otherwise take the claims' locks crosswise and one would die in a deadlock."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('remittance-posting', 835))")


async def lock_claim_postings(conn: asyncpg.Connection, claim_id: uuid.UUID) -> None:
    """One posting at a time per claim (a reversal and its correction in two files at once)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 835))", claim_id
    )


async def lock_standing(conn: asyncpg.Connection, claim_id: uuid.UUID) -> Original | None:
    """The claim's remittance that stands (posted, not a reversal, not reversed), locked."""
    row = await conn.fetchrow(
        """
        SELECT id, claim_id, paid_cents FROM remitted_claims
        WHERE claim_id = $1 AND reversed_by IS NULL AND reversal_of IS NULL
          AND outcome IN ('paid', 'partially_paid', 'denied')
        ORDER BY ordinal DESC LIMIT 1 FOR UPDATE
        """,
        claim_id,
    )
    return Original(**dict(row)) if row is not None else None


async def lock_original(
    conn: asyncpg.Connection, payer_claim_number: str, clm01: str
) -> Original | None:
    """What a reversal negates: matched by CLP07, then by CLP01 (DESIGN.md "Reversal")."""
    for column in ("payer_claim_number", "patient_control_number"):
        row = await conn.fetchrow(
            f"""
            SELECT id, claim_id, paid_cents FROM remitted_claims
            WHERE {column} = $1 AND claim_id IS NOT NULL
              AND reversed_by IS NULL AND reversal_of IS NULL
              AND outcome IN ('paid', 'partially_paid', 'denied')
            LIMIT 1 FOR UPDATE
            """,  # noqa: S608 - a column name from the tuple above
            payer_claim_number if column == "payer_claim_number" else clm01,
        )
        if row is not None:
            return Original(**dict(row))
    return None


async def update_reversed(
    conn: asyncpg.Connection, original_id: uuid.UUID, reversal_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE remitted_claims SET reversed_by = $2 WHERE id = $1", original_id, reversal_id
    )


async def insert_remitted_claim(conn: asyncpg.Connection, values: dict[str, object]) -> None:
    await conn.execute(
        """
        INSERT INTO remitted_claims (id, payment_id, ordinal, position, patient_control_number,
            status_code, charge_cents, paid_cents, patient_responsibility_cents,
            patient_adjustments_cents, payer_claim_number, claim_id, submission_id, outcome,
            reversal_of, contractual_cents, loss_cents, true_up_cents, remark_codes, needs_ops,
            ops_reason, estimated_share_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22)
        """,
        *(values[k] for k in _CLAIM_COLUMNS),
    )


_CLAIM_COLUMNS = (
    "id", "payment_id", "ordinal", "position", "patient_control_number", "status_code",
    "charge_cents", "paid_cents", "patient_responsibility_cents", "patient_adjustments_cents",
    "payer_claim_number", "claim_id", "submission_id", "outcome", "reversal_of",
    "contractual_cents", "loss_cents", "true_up_cents", "remark_codes", "needs_ops",
    "ops_reason", "estimated_share_cents",
)  # fmt: skip


async def list_claim_lines(
    conn: asyncpg.Connection, claim_id: uuid.UUID, control_numbers: list[str]
) -> dict[str, int]:
    """The claim's line numbers by REF*6R."""
    rows = await conn.fetch(
        """
        SELECT line_control_number, line_number FROM claim_lines
        WHERE claim_id = $1 AND line_control_number = ANY($2::text[])
        """,
        claim_id,
        control_numbers,
    )
    return {r["line_control_number"]: r["line_number"] for r in rows}


async def insert_line(
    conn: asyncpg.Connection,
    remitted_claim_id: uuid.UUID,
    ordinal: int,
    position: int,
    procedure_code: str,
    charge_cents: int,
    paid_cents: int,
    control_number: str | None,
    matched: tuple[uuid.UUID, int] | None,
    remark_codes: list[str],
) -> uuid.UUID:
    found: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO remitted_lines (remitted_claim_id, ordinal, position, procedure_code,
            charge_cents, paid_cents, line_control_number, claim_id, line_number, remark_codes)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        remitted_claim_id, ordinal, position, procedure_code[:48], charge_cents, paid_cents,
        control_number, matched[0] if matched else None, matched[1] if matched else None,
        remark_codes,
    )  # fmt: skip
    return found


async def insert_adjustments(
    conn: asyncpg.Connection,
    rows: list[AdjustmentRow],
) -> None:
    await conn.executemany(
        """
        INSERT INTO remittance_adjustments (remitted_claim_id, remitted_line_id, carc_group,
            carc_code, amount_cents, quantity, remark_codes)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        rows,
    )


async def insert_provider_adjustment(
    conn: asyncpg.Connection,
    payment_id: uuid.UUID,
    ordinal: int,
    position: int,
    reason: str,
    reference: str | None,
    amount_cents: int,
    claim_id: uuid.UUID | None,
    account: str,
    needs_ops: bool,
) -> None:
    await conn.execute(
        """
        INSERT INTO remittance_provider_adjustments (payment_id, ordinal, position, reason,
            reference, amount_cents, claim_id, account, needs_ops)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        payment_id, ordinal, position, reason, reference, amount_cents, claim_id, account,
        needs_ops,
    )  # fmt: skip


async def get_claim_payer(conn: asyncpg.Connection, claim_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await conn.fetchval(
        "SELECT payer_id FROM claims WHERE id = $1", claim_id
    )
    return found


async def get_plb_on_claim(conn: asyncpg.Connection, claim_id: uuid.UUID) -> int:
    """What PLBs (WO, 72, FB) moved on the claim's receivable: cash timing, not adjudication."""
    found: int = await conn.fetchval(
        """
        SELECT coalesce(sum(amount_cents), 0)::bigint FROM remittance_provider_adjustments
        WHERE claim_id = $1 AND account = 'payer_receivable'
        """,
        claim_id,
    )
    return found
