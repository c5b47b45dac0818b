"""`bench era_post`'s baseline, `bare_inserts`: the rows a posting wrote, written again bare.

`read_written` reads back (not timed) what posting one file wrote: the file, its payments,
remitted claims, lines, adjustments and PLBs, the journal entries and lines after a mark, the
claims' history rows after a mark, the claims' statuses and their versions' payer claim
numbers. `write_again` writes the same rows under new ids and keys by COPY, and the same
UPDATEs by executemany: no reads, no decisions, no locks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.core import clock

_PAYMENT = (
    "position, handling, amount_cents, method, payment_date, trace_number, trace_originator,"
    " payer_name, payer_id, payee_npi, claims, paid_cents, provider_adjustment_cents,"
    " needs_ops, ops_reason, posted_at"
)
_CLAIM = (
    "ordinal, position, patient_control_number, status_code, charge_cents, paid_cents,"
    " patient_responsibility_cents, patient_adjustments_cents, payer_claim_number, claim_id,"
    " submission_id, outcome, contractual_cents, loss_cents, true_up_cents, remark_codes,"
    " needs_ops, ops_reason"
)
_LINE = (
    "ordinal, position, procedure_code, charge_cents, paid_cents, line_control_number,"
    " claim_id, line_number, remark_codes"
)
_ADJUSTMENT = "remitted_line_id, carc_group, carc_code, amount_cents, quantity, remark_codes"
_PLB = "ordinal, position, reason, reference, amount_cents, claim_id, account, needs_ops"
_ENTRY = "kind, idempotency_key, occurred_at, memo, source_table, source_id"
_JOURNAL_LINE = "account_id, side, amount_cents, claim_id"
_HISTORY = "claim_id, from_status, to_status, reason, actor_user_id, at"


@dataclass
class Written:
    """What posting one file wrote, read back for the baseline to write again."""

    file: asyncpg.Record
    payments: list[asyncpg.Record]
    claims: list[asyncpg.Record]
    lines: list[asyncpg.Record]
    adjustments: list[asyncpg.Record]
    plbs: list[asyncpg.Record]
    entries: list[asyncpg.Record]
    journal_lines: list[asyncpg.Record]
    history: list[asyncpg.Record]
    statuses: list[asyncpg.Record]
    numbers: list[asyncpg.Record]


async def marks(conn: asyncpg.Connection) -> tuple[int, int]:
    """The last journal entry's and history row's ids: what a posting adds comes after."""
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(id), 0) FROM journal_entries),"
        " (SELECT coalesce(max(id), 0) FROM claim_status_history)"
    )
    assert row is not None
    return int(row[0]), int(row[1])


async def read_written(
    conn: asyncpg.Connection, file_id: uuid.UUID, marks: tuple[int, int]
) -> Written:
    f = await conn.fetchrow("SELECT byte_size, transactions, claims, payment_cents"
                            " FROM remittance_files WHERE id = $1", file_id)  # fmt: skip
    assert f is not None
    pays = await conn.fetch(
        f"SELECT id, {_PAYMENT} FROM remittance_payments WHERE file_id = $1",  # noqa: S608
        file_id,
    )
    ids = [p["id"] for p in pays]
    claims = await conn.fetch(
        f"SELECT id, payment_id, {_CLAIM} FROM remitted_claims"  # noqa: S608
        " WHERE payment_id = ANY ($1::uuid[]) ORDER BY payment_id, ordinal",
        ids,
    )
    cids = [c["id"] for c in claims]
    return Written(
        file=f, payments=list(pays), claims=list(claims),
        lines=await conn.fetch(f"SELECT id, remitted_claim_id, {_LINE} FROM remitted_lines"  # noqa: S608
                               " WHERE remitted_claim_id = ANY ($1::uuid[])", cids),
        adjustments=await conn.fetch(
            f"SELECT remitted_claim_id, {_ADJUSTMENT} FROM remittance_adjustments"  # noqa: S608
            " WHERE remitted_claim_id = ANY ($1::uuid[]) ORDER BY id", cids),
        plbs=await conn.fetch(f"SELECT payment_id, {_PLB} FROM remittance_provider_adjustments"  # noqa: S608
                              " WHERE payment_id = ANY ($1::uuid[])", ids),
        entries=await conn.fetch(f"SELECT id, {_ENTRY} FROM journal_entries WHERE id > $1"  # noqa: S608
                                 " ORDER BY id", marks[0]),
        journal_lines=await conn.fetch(f"SELECT entry_id, {_JOURNAL_LINE} FROM journal_lines"  # noqa: S608
                                       " WHERE entry_id > $1 ORDER BY id", marks[0]),
        history=await conn.fetch(f"SELECT {_HISTORY} FROM claim_status_history WHERE id > $1"  # noqa: S608
                                 " ORDER BY id", marks[1]),
        statuses=await conn.fetch("SELECT id, status, updated_at FROM claims"
                                  " WHERE id = ANY ($1::uuid[])", [c["claim_id"] for c in claims]),
        numbers=await conn.fetch("SELECT id, payer_claim_number FROM claim_submissions"
                                 " WHERE id = ANY ($1::uuid[]) AND payer_claim_number IS NOT NULL",
                                 [c["submission_id"] for c in claims]),
    )  # fmt: skip


async def _copy(
    conn: asyncpg.Connection, table: str, columns: str, rows: list[tuple[object, ...]]
) -> None:
    names = [name.strip() for name in columns.split(",")]
    await conn.copy_records_to_table(table, records=rows, columns=names)


def _tail(row: asyncpg.Record, skip: int) -> list[object]:
    return list(row.values())[skip:]


async def write_again(conn: asyncpg.Connection, w: Written) -> None:
    """The baseline: the same rows under new ids and keys, by COPY, no reads, no decisions."""
    new: dict[uuid.UUID, uuid.UUID] = {}

    def renamed(old: uuid.UUID) -> uuid.UUID:
        return new.setdefault(old, uuid.uuid4())

    file_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO remittance_files (id, sha256, source, received_at, byte_size, transactions,"
        " claims, payment_cents) VALUES ($1, $2, 'clearinghouse', $3, $4, $5, $6, $7)",
        file_id, uuid.uuid4().hex * 2, clock.now(), *w.file.values(),
    )  # fmt: skip
    trace = _PAYMENT.split(", ").index("trace_number") + 1
    await _copy(conn, "remittance_payments", "id, file_id, " + _PAYMENT, [
        (renamed(p["id"]), file_id, *_tail(p, 1)[: trace - 1], "B" + p["trace_number"],
         *_tail(p, trace + 1)) for p in w.payments
    ])  # fmt: skip
    await _copy(conn, "remitted_claims", "id, payment_id, " + _CLAIM, [
        (renamed(c["id"]), new[c["payment_id"]], *_tail(c, 2)) for c in w.claims
    ])  # fmt: skip
    await _copy(conn, "remitted_lines", "id, remitted_claim_id, " + _LINE, [
        (renamed(x["id"]), new[x["remitted_claim_id"]], *_tail(x, 2)) for x in w.lines
    ])  # fmt: skip
    await _copy(conn, "remittance_adjustments", "remitted_claim_id, " + _ADJUSTMENT, [
        (new[a["remitted_claim_id"]], a["remitted_line_id"] and new[a["remitted_line_id"]],
         *_tail(a, 2)) for a in w.adjustments
    ])  # fmt: skip
    await _copy(conn, "remittance_provider_adjustments", "payment_id, " + _PLB, [
        (new[p["payment_id"]], *_tail(p, 1)) for p in w.plbs
    ])  # fmt: skip
    ids = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) AS id"
        " FROM generate_series(1, $1)",
        len(w.entries),
    )
    entry_ids = {e["id"]: r["id"] for e, r in zip(w.entries, ids, strict=True)}
    # COPY writes an identity column's values as given (INSERT's OVERRIDING SYSTEM VALUE).
    await _copy(conn, "journal_entries", "id, " + _ENTRY, [
        (entry_ids[e["id"]], e["kind"], "bench-" + e["idempotency_key"], e["occurred_at"],
         e["memo"], e["source_table"], new.get(e["source_id"], e["source_id"]))
        for e in w.entries
    ])  # fmt: skip
    await _copy(conn, "journal_lines", "entry_id, " + _JOURNAL_LINE, [
        (entry_ids[x["entry_id"]], *_tail(x, 1)) for x in w.journal_lines
    ])  # fmt: skip
    await _copy(conn, "claim_status_history", _HISTORY, [tuple(h.values()) for h in w.history])
    await conn.executemany(
        "UPDATE claims SET status = $2, updated_at = $3 WHERE id = $1",
        [tuple(s.values()) for s in w.statuses],
    )
    await conn.executemany(
        "UPDATE claim_submissions SET payer_claim_number = $2"
        " WHERE id = $1 AND payer_claim_number IS DISTINCT FROM $2",
        [tuple(n.values()) for n in w.numbers],
    )
