"""A superbill as the PDF the client sends their insurer (services/core/pdf.py lays it out).

The provider's full tax id is printed here only, revealed when the PDF is made (never stored
in clear, never in the JSON), as the Good Faith Estimate's email does.
"""

from __future__ import annotations

import uuid

import asyncpg

from schemas.superbills import SuperbillAddressOut, SuperbillOut, SuperbillSessionOut
from services.core.pdf import Document, usd
from services.core.settings import Settings
from services.providers.service import reveal_tax_id

POS = {"02": "02 telehealth", "10": "10 telehealth, home", "11": "11 office"}


def icd10(code: str) -> str:
    """ICD-10-CM as people read it, with its dot (F411 -> F41.1)."""
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def tin(digits: str) -> str:
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else digits


def _address(a: SuperbillAddressOut) -> str:
    street = a.line1 + (f", {a.line2}" if a.line2 else "")
    zip_ = f"{a.zip[:5]}-{a.zip[5:]}" if len(a.zip) == 9 else a.zip
    return f"{street}, {a.city}, {a.state} {zip_}"


def _rows(session: SuperbillSessionOut, npi: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(session.lines):
        pointed = [session.diagnosis_codes[p - 1] for p in line.diagnosis_pointers
                   if 0 < p <= len(session.diagnosis_codes)]  # fmt: skip
        first = n == 0
        rows.append([
            session.date_of_service.isoformat() if first else "", npi,
            POS.get(session.place_of_service, session.place_of_service), line.cpt_code,
            " ".join(line.modifiers), ", ".join(icd10(c) for c in pointed), str(line.units),
            usd(line.charge_cents), usd(session.paid_cents) if first else "",
        ])  # fmt: skip
    return rows


async def render(conn: asyncpg.Connection, settings: Settings, superbill: SuperbillOut) -> bytes:
    """The superbill's PDF."""
    doc = Document(
        f"Superbill {superbill.period}", superbill.issued_at, author=settings.platform_name
    )
    doc.title("Superbill")
    period = (
        f"Session of {superbill.period_start.isoformat()}"
        if superbill.period == "session"
        else f"Services from {superbill.period_start.isoformat()} to "
        f"{superbill.period_end.isoformat()}"
    )
    issued = superbill.issued_at.date().isoformat()
    doc.text(f"{period} - issued {issued} (dates in {superbill.time_zone})")
    npis: dict[uuid.UUID, str] = {}
    for provider in superbill.providers:
        npis[provider.id] = provider.npi
        doc.heading("Rendering provider")
        tax_id = await reveal_tax_id(conn, settings, provider.id)
        doc.pairs([
            ("Name", provider.name), ("NPI", provider.npi),
            ("Taxonomy", provider.taxonomy_code), ("Tax ID (TIN)", tin(tax_id)),
            ("Address", _address(provider.address) if provider.address else "No office on file"),
        ])  # fmt: skip
    billed = superbill.billed_by
    doc.heading("Billed and collected by")
    doc.pairs([("Name", billed.name), ("NPI", billed.npi), ("Address", _address(billed.address))])
    client = superbill.client
    doc.heading("Patient")
    plan = [("Insurer", client.payer_name), ("Member ID", client.member_id)]
    doc.pairs([
        ("Name", client.name), ("Date of birth", client.date_of_birth.isoformat()),
        ("Address", _address(client.address)),
        *((label, value) for label, value in plan if value is not None),
    ])  # fmt: skip
    doc.heading("Services")
    if not superbill.sessions:
        doc.text("No self-pay or out-of-network sessions in this period.")
    else:
        rows = [row for s in superbill.sessions for row in _rows(s, npis[s.provider_id])]
        doc.table(
            ["Date", "Provider NPI", "Place", "CPT", "Mod.", "ICD-10", "Units", "Charge", "Paid"],
            rows,
            widths=[21, 23, 27, 13, 12, 30, 11, 22, 22],
            align=["L", "L", "L", "L", "L", "L", "R", "R", "R"],
        )
    doc.space(2)
    doc.pairs([
        ("Total charged", usd(superbill.total_charged_cents)),
        ("Total paid", usd(superbill.total_paid_cents)),
    ])  # fmt: skip
    doc.space()
    doc.text(superbill.statement, size=9)
    return doc.output()
