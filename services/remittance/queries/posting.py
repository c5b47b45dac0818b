"""SQL of the 835 posting: files, payments, remitted claims, lines, adjustments, PLBs.

Foreign tables read: claim_submissions, claims and claim_lines (a CLP matched to its claim by
CLP01 = CLM01, a line by REF*6R), payers (the payment's payer by its X12 id; a claim's filing
window), and for the facts a loss is decided on (recoupment.py), in the match's one statement:
therapy_sessions (when the session was confirmed), provider_locations and clients (the state of
the service address), provider_licences (a licence valid there on the date of service); and
journal_entries, journal_lines and ledger_accounts (ledger) for what a claim's session earned
its provider and what its remittances took back (a recoupment's cap).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
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
    # What completion booked for each line, by its line control number (REF*6R): a line's
    # loss is at most its own part of the claim (posting.py), and its recoupment at most what
    # the line earned the provider (its fee schedule's provider rate).
    line_allowed: dict[str, int] = field(default_factory=dict)
    line_rates: dict[str, int] = field(default_factory=dict)


@dataclass
class Remitted:
    """A remittance that stands (posted, not a reversal, not reversed): what a later CLP of the
    same claim, or a reversal naming it, finds."""

    id: uuid.UUID
    claim_id: uuid.UUID
    paid_cents: int
    payer_claim_number: str
    patient_control_number: str
    payer_id: uuid.UUID | None = None  # its claim's payer: CLP07 is unique per payer only
    reversed: bool = False  # by a reversal earlier in the payment being posted


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
    SELECT s.clm01, s.claim_id, s.id AS submission_id, c.payer_id, c.provider_id, c.client_id,
           c.allowed_cents, c.prior_authorization_id IS NOT NULL AS authorization_recorded,
           c.service_date, py.timely_filing_days,
           (ts.confirmed_at AT TIME ZONE 'UTC')::date AS confirmed_on,
           CASE WHEN place.state IS NOT NULL THEN NOT EXISTS (
               SELECT 1 FROM provider_licences l
               WHERE l.provider_id = c.provider_id AND l.state = place.state
                 AND l.expires_on >= c.service_date) END AS licence_lapsed,
           lines.controls AS line_controls, lines.allowed AS line_allowed,
           lines.rates AS line_rates
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
    CROSS JOIN LATERAL (
        SELECT array_agg(line_control_number ORDER BY line_number) AS controls,
               array_agg(allowed_cents ORDER BY line_number) AS allowed,
               array_agg(provider_rate_cents ORDER BY line_number) AS rates
        FROM claim_lines WHERE claim_id = c.id
    ) lines
"""


async def list_claim_matches(conn: asyncpg.Connection, clm01s: list[str]) -> dict[str, ClaimMatch]:
    """Our claims whose versions were sent with these CLM01s, by CLM01, with the facts a loss is
    decided on."""
    rows = await conn.fetch(_MATCH + " WHERE s.clm01 = ANY ($1::text[])", clm01s)
    return {r["clm01"]: _match(r) for r in rows}


# The columns that are no ClaimMatch field as such (the key, and the lines made dicts).
_NOT_FIELDS = ("clm01", "line_controls", "line_allowed", "line_rates")


def _match(row: asyncpg.Record) -> ClaimMatch:
    fields = {k: v for k, v in row.items() if k not in _NOT_FIELDS}
    controls = row["line_controls"] or ()
    return ClaimMatch(
        **fields,
        line_allowed=dict(zip(controls, row["line_allowed"] or (), strict=True)),
        line_rates=dict(zip(controls, row["line_rates"] or (), strict=True)),
    )


async def get_claim_match(conn: asyncpg.Connection, clm01: str) -> ClaimMatch | None:
    """Our claim whose version was sent with this CLM01, with the facts a loss is decided on."""
    return (await list_claim_matches(conn, [clm01])).get(clm01)


# Per claim, from the ledger: what its session booked the provider (completion, edits,
# corrections and a void: provider_payable credits less debits) and what its remittances took
# back from them (recoupments less what reversals gave back: debits less credits).
_PROVIDER_FIGURES = """
    WITH sources AS (
        SELECT c.id AS claim_id, 'therapy_sessions' AS source_table,
               c.therapy_session_id AS source_id,
               ARRAY['completion', 'completion_edited'] AS kinds, true AS earned
        FROM claims c WHERE c.id = ANY ($1::uuid[])
        UNION ALL
        SELECT c.id, 'claims', c.id, ARRAY['claim_corrected', 'claim_voided'], true
        FROM claims c WHERE c.id = ANY ($1::uuid[])
        UNION ALL
        SELECT r.claim_id, 'remitted_claims', r.id, ARRAY['claim_remitted', 'recoupment'], false
        FROM remitted_claims r WHERE r.claim_id = ANY ($1::uuid[])
    )
    SELECT s.claim_id,
           coalesce(sum(CASE l.side WHEN 'credit' THEN l.amount_cents ELSE -l.amount_cents END)
                    FILTER (WHERE s.earned), 0)::bigint AS earned_cents,
           coalesce(sum(CASE l.side WHEN 'debit' THEN l.amount_cents ELSE -l.amount_cents END)
                    FILTER (WHERE NOT s.earned), 0)::bigint AS recouped_cents
    FROM sources s
    JOIN journal_entries e
      ON e.source_table = s.source_table AND e.source_id = s.source_id AND e.kind = ANY (s.kinds)
    JOIN journal_lines l ON l.entry_id = e.id
    JOIN ledger_accounts a ON a.id = l.account_id AND a.kind = 'provider_payable'
    GROUP BY s.claim_id
"""


async def list_provider_figures(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Per claim (earned, recouped) in cents, in one statement (a claim with neither: left out)."""
    rows = await conn.fetch(_PROVIDER_FIGURES, claim_ids)
    return {r["claim_id"]: (r["earned_cents"], r["recouped_cents"]) for r in rows}


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


async def lock_claims_postings(conn: asyncpg.Connection, claim_ids: list[uuid.UUID]) -> None:
    """One posting at a time per claim (a reversal and its correction in two files at once);
    the claims locked in the order of their ids, so two payments cannot take them crosswise."""
    await conn.execute(
        """
        SELECT pg_advisory_xact_lock(hashtextextended(id::text, 835))
        FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS w (id) ORDER BY id) AS ordered
        """,
        claim_ids,
    )


async def lock_remitted(
    conn: asyncpg.Connection,
    claim_ids: list[uuid.UUID],
    payer_claim_numbers: list[str],
    clm01s: list[str],
) -> list[Remitted]:
    """The remittances that stand (posted, not a reversal, not reversed) of these claims, and
    those a reversal may negate (by CLP07 or CLP01: DESIGN.md "Reversal"), each with its
    claim's payer, locked in the order of their ids."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.claim_id, r.paid_cents, r.payer_claim_number, r.patient_control_number,
               c.payer_id
        FROM remitted_claims r JOIN claims c ON c.id = r.claim_id
        WHERE r.reversed_by IS NULL AND r.reversal_of IS NULL
          AND r.outcome IN ('paid', 'partially_paid', 'denied')
          AND (r.claim_id = ANY ($1::uuid[])
               OR r.payer_claim_number = ANY ($2::text[])
               OR r.patient_control_number = ANY ($3::text[]))
        ORDER BY r.id FOR UPDATE OF r
        """,
        claim_ids,
        payer_claim_numbers,
        clm01s,
    )
    return [Remitted(**dict(r)) for r in rows]


async def update_reversed(
    conn: asyncpg.Connection, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> None:
    """Each (original, reversal): the original's reversed_by."""
    await conn.execute(
        """
        UPDATE remitted_claims r SET reversed_by = w.reversal
        FROM unnest($1::uuid[], $2::uuid[]) AS w (original, reversal) WHERE r.id = w.original
        """,
        [original for original, _ in pairs],
        [reversal for _, reversal in pairs],
    )


async def insert_remitted_claims(conn: asyncpg.Connection, rows: list[dict[str, object]]) -> None:
    """The rows by COPY: a payment's hundreds in one round trip, no statement per row."""
    await conn.copy_records_to_table(
        "remitted_claims",
        records=[tuple(values[k] for k in _CLAIM_COLUMNS) for values in rows],
        columns=_CLAIM_COLUMNS,
    )


_CLAIM_COLUMNS = (
    "id", "payment_id", "ordinal", "position", "patient_control_number", "status_code",
    "charge_cents", "paid_cents", "patient_responsibility_cents", "patient_adjustments_cents",
    "payer_claim_number", "claim_id", "submission_id", "outcome", "reversal_of",
    "contractual_cents", "loss_cents", "true_up_cents", "remark_codes", "needs_ops",
    "ops_reason", "estimated_share_cents",
)  # fmt: skip


async def list_claims_lines(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID], control_numbers: list[str]
) -> dict[tuple[uuid.UUID, str], int]:
    """The claims' line numbers by (claim, REF*6R)."""
    rows = await conn.fetch(
        """
        SELECT claim_id, line_control_number, line_number FROM claim_lines
        WHERE claim_id = ANY ($1::uuid[]) AND line_control_number = ANY ($2::text[])
        """,
        claim_ids,
        control_numbers,
    )
    return {(r["claim_id"], r["line_control_number"]): r["line_number"] for r in rows}


# (id, remitted claim, ordinal, position, procedure, charge, paid, REF*6R, claim, line, RARCs)
LineRow = tuple[
    uuid.UUID, uuid.UUID, int, int, str, int, int, str | None, uuid.UUID | None, int | None,
    list[str],
]  # fmt: skip


async def insert_lines(conn: asyncpg.Connection, rows: list[LineRow]) -> None:
    await conn.copy_records_to_table(
        "remitted_lines",
        records=rows,
        columns=(
            "id", "remitted_claim_id", "ordinal", "position", "procedure_code", "charge_cents",
            "paid_cents", "line_control_number", "claim_id", "line_number", "remark_codes",
        ),
    )  # fmt: skip


async def insert_adjustments(
    conn: asyncpg.Connection,
    rows: list[AdjustmentRow],
) -> None:
    await conn.copy_records_to_table(
        "remittance_adjustments",
        records=rows,
        columns=(
            "remitted_claim_id", "remitted_line_id", "carc_group", "carc_code", "amount_cents",
            "quantity", "remark_codes",
        ),
    )  # fmt: skip


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


async def list_plb_on_claims(
    conn: asyncpg.Connection, claim_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """What PLBs (WO, 72, FB) moved on each claim's receivable: cash timing, not adjudication
    (a claim with none is left out)."""
    rows = await conn.fetch(
        """
        SELECT claim_id, sum(amount_cents)::bigint AS cents
        FROM remittance_provider_adjustments
        WHERE claim_id = ANY ($1::uuid[]) AND account = 'payer_receivable'
        GROUP BY claim_id
        """,
        claim_ids,
    )
    return {r["claim_id"]: r["cents"] for r in rows}
