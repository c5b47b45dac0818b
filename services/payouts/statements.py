"""A payout's statement (issue 18 item 4): what the provider was paid and why, as JSON, CSV or
PDF (services/core/pdf.py lays the PDF out).

One line per session the payout pays (its date of service, the client's initials only, its CPT
codes, the provider's amount) and one per adjustment: a session's edit, a recoupment with its
reason (the CARC in words), a reversed transfer owed again, any other entry with its memo. The
lines are the payout's frozen payout_lines, so they add up to its amount.

Client initials and dates of service are PHI-ish: every read is audited (entity
`payout_statement`). Dates are in the platform's statement time zone, as clients' statements.
"""

from __future__ import annotations

import csv
import io
import re
import uuid

import asyncpg

from schemas.payout_statements import (
    PayoutStatementLineOut,
    PayoutStatementOut,
    StatementLineKind,
)
from services.core import audit, clock
from services.core.auth import Actor
from services.core.pdf import Document, usd
from services.core.scope import owner_scope
from services.core.settings import Settings
from services.payouts.errors import PayoutNotFound
from services.payouts.queries import runs as q
from services.payouts.queries import statements as sq
from services.remittance.service import carc_words

ENTITY = "payout_statement"
# A recoupment's memo names its CARC as remittance books it: "... (CO-50)".
_CARC = re.compile(r"\((CO|PI|OA|PR)-([0-9A-Z]{1,5})\)")
CSV_HEADER = (
    "payout_id", "run_date", "line", "kind", "date", "client_initials", "cpt_codes",
    "description", "amount_cents", "amount_usd",
)  # fmt: skip


def _kind(row: sq.StatementLineRow) -> StatementLineKind:
    if row.kind == "completion" and row.source_table == "therapy_sessions":
        return "session"
    if row.kind == "completion_edited":
        return "edit"
    if row.kind in ("recoupment", "transfer_reversed"):
        return "recoupment" if row.kind == "recoupment" else "transfer_reversal"
    return "adjustment"


def _session_words(row: sq.StatementLineRow) -> str:
    if row.service_date is None:
        return "a session"
    return f"the session of {row.service_date.isoformat()}"


def _description(kind: StatementLineKind, row: sq.StatementLineRow) -> str:
    if kind == "session":
        return "Session: the provider's rate"
    if kind == "edit":
        return f"Edit of {_session_words(row)}" + (f": {row.reason}" if row.reason else "")
    if kind == "recoupment":
        found = _CARC.search(row.reason)
        code = f", {found[1]}-{found[2]} ({carc_words(found[2])})" if found else ""
        return f"Recoupment on {_session_words(row)}{code}: {row.reason}"
    if kind == "transfer_reversal":
        of = f" of {row.reversed_run_date.isoformat()}" if row.reversed_run_date else ""
        return f"The transfer of the payout{of} was reversed: owed again"
    return f"Adjustment: {row.reason}"


def _line(row: sq.StatementLineRow) -> PayoutStatementLineOut:
    kind = _kind(row)
    return PayoutStatementLineOut(
        kind=kind, date=row.service_date or row.entry_date, session_id=row.session_id,
        client_initials=row.client_initials, cpt_codes=row.cpt_codes,
        description=_description(kind, row), amount_cents=row.amount_cents,
    )  # fmt: skip


async def get_statement(
    conn: asyncpg.Connection, settings: Settings, actor: Actor, payout_id: uuid.UUID
) -> PayoutStatementOut:
    """The payout's statement (ops; a provider only their own: another's is 404)."""
    payout = await q.get_payout(conn, payout_id, owner_scope(actor).provider_id)
    if payout is None:
        raise PayoutNotFound("payout not found")
    zone = settings.statement_time_zone
    lines = [_line(r) for r in await sq.list_statement_lines(conn, payout_id, zone)]
    sessions = sum(x.amount_cents for x in lines if x.kind == "session")
    total = sum(x.amount_cents for x in lines)
    await audit.record(conn, actor, "read", ENTITY, [payout_id])
    return PayoutStatementOut(
        payout_id=payout.id, provider_id=payout.provider_id,
        provider_name=await sq.get_provider_name(conn, payout.provider_id),
        run_date=payout.run_date, period_end=payout.period_end, status=payout.status,
        paid_at=payout.paid_at, stripe_transfer_id=payout.stripe_transfer_id, time_zone=zone,
        lines=lines, sessions_cents=sessions, adjustments_cents=total - sessions,
        total_cents=total, issued_at=clock.now(),
    )  # fmt: skip


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def to_csv(statement: PayoutStatementOut) -> str:
    """One row per line under a header row, then a total row: amounts both in cents and in
    dollars with two decimals (no thousands separator, a leading minus), quoted by csv."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    payout, run_date = str(statement.payout_id), statement.run_date.isoformat()
    for n, x in enumerate(statement.lines, start=1):
        writer.writerow([
            payout, run_date, n, x.kind, x.date.isoformat(), x.client_initials or "",
            " ".join(x.cpt_codes), x.description, x.amount_cents, _dollars(x.amount_cents),
        ])  # fmt: skip
    total = statement.total_cents
    writer.writerow([payout, run_date, "", "total", "", "", "", "Payout total", total,
                     _dollars(total)])  # fmt: skip
    return out.getvalue()


def to_pdf(settings: Settings, statement: PayoutStatementOut) -> bytes:
    doc = Document(
        f"Payout statement {statement.run_date.isoformat()}", statement.issued_at,
        author=settings.platform_name,
    )  # fmt: skip
    doc.title("Payout statement")
    doc.pairs([
        ("Provider", statement.provider_name),
        ("Payout date", statement.run_date.isoformat()),
        ("Status", statement.status + (f" {statement.paid_at.date().isoformat()}"
                                       if statement.paid_at else "")),
        ("Stripe transfer", statement.stripe_transfer_id or "not yet sent"),
        ("Issued", f"{statement.issued_at.date().isoformat()} (dates in {statement.time_zone})"),
    ])  # fmt: skip
    sessions = [x for x in statement.lines if x.kind == "session"]
    adjustments = [x for x in statement.lines if x.kind != "session"]
    doc.heading("Sessions")
    if sessions:
        rows = [
            [
                x.date.isoformat(),
                x.client_initials or "",
                " ".join(x.cpt_codes),
                usd(x.amount_cents),
            ]
            for x in sessions
        ]
        heads = ["Date of service", "Client", "CPT", "Rate"]
        doc.table(heads, rows, widths=[35, 25, 60, 35], align=["L", "L", "L", "R"])
    else:
        doc.text("No sessions in this payout.")
    doc.heading("Adjustments")
    if adjustments:
        rows = [
            [x.date.isoformat(), x.client_initials or "", x.description, usd(x.amount_cents)]
            for x in adjustments
        ]
        heads = ["Date", "Client", "Adjustment", "Amount"]
        doc.table(heads, rows, widths=[25, 18, 112, 31], align=["L", "L", "L", "R"])
    else:
        doc.text("No adjustments in this payout.")
    doc.space(2)
    doc.pairs([
        ("Sessions", usd(statement.sessions_cents)),
        ("Adjustments", usd(statement.adjustments_cents)),
        ("Payout total", usd(statement.total_cents)),
    ])  # fmt: skip
    return doc.output()
