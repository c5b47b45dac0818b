"""One 835 (005010X221A1) transaction as services/remittance/x835 reads it, for the posting.

Value objects, independent of our tables. Money is integer cents with the file's sign kept
exactly (a reversal's amounts are negative, a PLB that raises the payment is negative); amounts
are parsed as decimals, never floats. Codes are kept as the file wrote them. `position` is the
segment's number in its file (the ISA is 1), so the posting can name what it refuses.
A frozen tree of values without cycles: `gc=False`, the garbage collector need not track them,
and the reader shares equal dates, amounts, adjustments and procedures between claims.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec


class Adjustment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One reason/amount/quantity triplet of a CAS segment (up to six per segment)."""

    group: str  # CAS01: CO contractual, PR patient responsibility, OA other, PI payer initiated
    reason: str  # CARC, e.g. 45, 1, 2, 3, 18, 50
    amount_cents: int  # signed: a reversal repeats the original's amounts negated
    quantity: Decimal | None = None


class Reference(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    qualifier: str  # REF01: 6R line control, 1K payer claim number, F8 original, EA, G1, 2U, TJ
    value: str


class DateValue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    qualifier: str  # DTM01: 405 production, 472 service, 150/151 service period, 232/233, 050
    value: date


class Amount(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    qualifier: str  # AMT01: B6 allowed, AU coverage, I interest, F5 patient paid, KH late filing
    amount_cents: int


class Quantity(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    qualifier: str  # QTY01
    value: Decimal


class Procedure(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A procedure composite (SVC01 or SVC06): qualifier HC (CPT/HCPCS), code, modifiers."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()
    description: str | None = None


class Party(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """N1 (payer PR, payee PE) or NM1 (patient QC, insured IL, corrected 74, rendering 82...)."""

    entity: str  # N101 / NM101
    name: str  # N102, or NM103 (last or organization name)
    first_name: str | None = None  # NM104
    id_qualifier: str | None = None  # N103 / NM108: XX NPI, FI tax id, PI payer id, MI member
    id: str | None = None  # N104 / NM109
    address_lines: tuple[str, ...] = ()  # N301, N302
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    references: tuple[Reference, ...] = ()  # 1000A REF*2U, 1000B REF*TJ...


class ServiceLine(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """2110: one SVC with its dates, adjustments, line control number, amounts and remarks."""

    procedure: Procedure  # SVC01, as adjudicated
    charge_cents: int  # SVC02
    paid_cents: int  # SVC03
    revenue_code: str | None = None  # SVC04
    units_paid: Decimal | None = None  # SVC05 (absent: 1)
    submitted_procedure: Procedure | None = None  # SVC06, when the payer changed the code
    units_submitted: Decimal | None = None  # SVC07
    dates: tuple[DateValue, ...] = ()  # DTM 472, or 150/151
    adjustments: tuple[Adjustment, ...] = ()
    control_number: str | None = None  # REF*6R: our 837's line control number
    references: tuple[Reference, ...] = ()  # the other REFs (LU, 0K, HPI...)
    amounts: tuple[Amount, ...] = ()  # AMT B6 allowed, KH...
    quantities: tuple[Quantity, ...] = ()
    remark_codes: tuple[str, ...] = ()  # LQ*HE (RARC)
    position: int  # the SVC segment's


class Claim(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """2100: one CLP with its adjustments, people, references, dates, amounts and lines."""

    patient_control_number: str  # CLP01: our CLM01
    status: str  # CLP02: 1/2/3 processed, 4 denied, 19/20/21 forwarded, 22 reversal, 23, 25
    charge_cents: int  # CLP03
    paid_cents: int  # CLP04
    patient_responsibility_cents: int | None = None  # CLP05 (situational)
    filing_indicator: str  # CLP06
    payer_claim_number: str  # CLP07
    facility_code: str | None = None  # CLP08: place of service on a professional claim
    frequency: str | None = None  # CLP09
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    people: tuple[Party, ...] = ()  # NM1 QC, IL, 74, 82, TT, PR, GB
    remark_codes: tuple[str, ...] = ()  # MOA03..MOA07
    references: tuple[Reference, ...] = ()
    dates: tuple[DateValue, ...] = ()  # DTM 232/233 statement period, 036, 050 received
    amounts: tuple[Amount, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    lines: tuple[ServiceLine, ...] = ()
    position: int  # the CLP segment's

    @property
    def patient_adjustments_cents(self) -> int:
        """Σ PR adjustments at claim and line level: the client's liability (DESIGN "835")."""
        total = sum(a.amount_cents for a in self.adjustments if a.group == "PR")
        for line in self.lines:
            total += sum(a.amount_cents for a in line.adjustments if a.group == "PR")
        return total


class ProviderAdjustment(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One reason/amount pair of a PLB: positive lowers the payment, negative raises it."""

    provider_id: str  # PLB01
    fiscal_period_end: date  # PLB02
    reason: str  # PLB03-1: L6 interest, WO overpayment recovery, 72, FB, CS, J1...
    reference: str | None = None  # PLB03-2: the claim or the earlier payment it names
    amount_cents: int  # signed, as the file wrote it
    position: int  # the PLB segment's


class ParseWarning(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Something read past, not fatal (CLP05 ≠ Σ PR). Quotes no value."""

    code: str  # patient_responsibility_mismatch
    segment: str
    position: int
    message: str


class Totals(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Per transaction; payment_cents is paid_cents less provider_adjustment_cents (checked)."""

    claims: int
    charge_cents: int  # Σ CLP03
    paid_cents: int  # Σ CLP04
    patient_responsibility_cents: int  # Σ CLP05
    provider_adjustment_cents: int  # Σ PLB amounts
    payment_cents: int  # BPR02, negated when BPR03 is D (debit)


class Envelope(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    interchange_control: str  # ISA13
    sender_id: str  # ISA06, trimmed
    receiver_id: str  # ISA08, trimmed
    group_control: str  # GS06
    application_sender: str  # GS02
    application_receiver: str  # GS03


class Remittance(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One 835 transaction set (ST..SE): one payment (or notification) and its claims."""

    envelope: Envelope
    control_number: str  # ST02
    handling: str  # BPR01: I remittance and payment, H notification only, C, D, P, U, X
    amount_cents: int  # BPR02, as written (never negative)
    credit_debit: str  # BPR03: C credit, D debit
    payment_method: str  # BPR04: ACH, CHK, BOP, FWT, NON
    payment_format: str | None = None  # BPR05: CCP, CTX
    payment_date: date  # BPR16: check issue or EFT effective date
    trace_type: str  # TRN01
    trace_number: str  # TRN02: the check or EFT number; with TRN03, posted once ever
    trace_originator: str  # TRN03: the payer's id, 1 + EIN
    trace_supplement: str | None = None  # TRN04
    production_date: date | None = None  # DTM*405
    references: tuple[Reference, ...] = ()  # REF*EV receiver, REF*F2 version
    payer: Party  # 1000A N1*PR
    payee: Party  # 1000B N1*PE
    claims: tuple[Claim, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()
    totals: Totals
    warnings: tuple[ParseWarning, ...] = ()
    position: int  # the ST segment's
    segments: int  # SE01, checked

    @property
    def notification_only(self) -> bool:
        """BPR01 H: no money moves (DESIGN.md "835 balancing")."""
        return self.handling == "H"


class FileSummary(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What validating a whole 835 file found, holding none of its claims."""

    interchanges: int
    groups: int
    transactions: int
    segments: int
    claims: int
    payment_cents: int  # Σ of every transaction's signed BPR02
    warnings: int
