"""The payers' 835 (005010X221A1): one payment to one payee per interchange, from adjudication.

A payment (`Remittance`) is one ST/SE: BPR (I: paid by ACH; H: a notification, nothing paid),
TRN*1 (the trace number, TRN03 = "1" + the payer's EIN), DTM*405, the payer (1000A) and the
payee (1000B, the billing provider: NPI and REF*TJ), one LX with a CLP per claim, and PLB.

Balancing, as a poster checks it: SVC02 - the line's CAS = SVC03; CLP03 - claim CAS - line CAS
= CLP04; CLP05 = the PR adjustments; BPR02 = ΣCLP04 - ΣPLB. An adjustment sits at line level,
except a claim denied as a whole (credentialing, filing limit, coverage, plan exclusion), which
is reported by one claim-level CAS and no service lines. A reversal (CLP02 22) repeats the
original claim with every amount negated: charge, payment, patient responsibility, each CAS,
each SVC and its allowed amount (AMT*B6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from infra.clearinghouse.adjudication import Adjustment, ClaimResult, LineResult
from infra.clearinghouse.world import Payer
from infra.clearinghouse.x12 import Control, Delimiters, Writer, money

VERSION = "005010X221A1"
FILING_INDICATOR = "12"  # CLP06: the world's plans are commercial PPO-like plans
REVERSAL = "22"
# The remark (RARC, LQ*HE) a payer adds to a CARC where the CARC alone says too little.
REMARKS = {
    "197": "M62",  # missing/incomplete/invalid treatment authorization code
    "18": "M86",  # service denied: payment already made for the same procedure
    "96": "N130",  # consult plan benefit documents for restrictions on this service
    "204": "N130",
    "185": "N95",  # this provider type/specialty may not bill this service
}
PER_CAS = 6  # adjustment triplets per CAS segment
PER_PLB = 6  # adjustments per PLB segment


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: signed, a positive amount lowers the payment."""

    code: str  # PLB03-1: L6 interest, WO overpayment recovery
    reference: str  # PLB03-2: the CLM01 of the claim it concerns
    amount: int  # cents


@dataclass
class Remittance:
    """One payer's payment (or notification) to one payee: one 835 transaction set."""

    payer: Payer
    payee: tuple[str, str, str]  # billing NPI, name, TIN
    payee_bank: tuple[str, str]  # routing, account
    trace: str  # TRN02
    day: date  # the payment's date: DTM*405, BPR16
    claims: list[tuple[ClaimResult, bool]] = field(default_factory=list)  # True: its reversal
    adjustments: list[ProviderAdjustment] = field(default_factory=list)

    @property
    def amount(self) -> int:
        """BPR02 = ΣCLP04 - ΣPLB."""
        paid = sum(-r.paid if reversal else r.paid for r, reversal in self.claims)
        return paid - sum(adj.amount for adj in self.adjustments)


def claim_status(result: ClaimResult, reversal: bool) -> str:
    """CLP02: 22 a reversal, 4 denied, else 1 (processed as primary, paid or owed by the client)."""
    if reversal:
        return REVERSAL
    return "4" if result.status == "denied" else "1"


def _cas(w: Writer, adjustments: list[Adjustment], sign: int) -> None:
    """One CAS per group in first-seen order, six reason/amount/quantity triplets each."""
    for group in dict.fromkeys(adj.group for adj in adjustments):
        mine = [adj for adj in adjustments if adj.group == group]
        for start in range(0, len(mine), PER_CAS):
            triplets: list[str] = []
            for adj in mine[start : start + PER_CAS]:
                triplets += [adj.reason, money(sign * adj.amount), ""]
            w.add("CAS", group, *triplets)


def _remarks(w: Writer, adjustments: list[Adjustment]) -> None:
    for code in dict.fromkeys(REMARKS[a.reason] for a in adjustments if a.reason in REMARKS):
        w.add("LQ", "HE", code)


def _line(w: Writer, line: LineResult, sign: int) -> None:
    procedure = w.delims.component.join(["HC", line.cpt, *line.modifiers])
    w.add("SVC", procedure, money(sign * line.charge), money(sign * line.paid))
    w.add("DTM", "472", line.day.strftime("%Y%m%d"))
    _cas(w, line.adjustments, sign)
    if line.control:
        w.add("REF", "6R", line.control)
    w.add("AMT", "B6", money(sign * line.allowed))
    _remarks(w, line.adjustments)


def _claim(w: Writer, result: ClaimResult, reversal: bool) -> None:
    sign = -1 if reversal else 1
    w.add(
        "CLP", result.claim_id, claim_status(result, reversal), money(sign * result.charge),
        money(sign * result.paid), money(sign * result.patient_responsibility),
        FILING_INDICATOR, result.payer_claim_number, result.place, result.frequency,
    )  # fmt: skip
    if result.claim_denial:
        _cas(w, [Adjustment("CO", result.claim_denial, result.charge)], sign)
    last, first = result.patient
    member_id = result.member_id
    dependant = any(result.insured)
    # The member id names the subscriber: a dependant's NM1*QC carries the name only.
    w.add("NM1", "QC", "1", last, first, "", "", "", "" if dependant else "MI",
          "" if dependant else member_id)  # fmt: skip
    if dependant:
        w.add("NM1", "IL", "1", result.insured[0], result.insured[1], "", "", "", "MI",
              member_id)  # fmt: skip
    if result.rendering_npi and result.rendering_npi != result.payee[0]:
        w.add("NM1", "82", "1", result.rendering_name[0], result.rendering_name[1], "", "", "",
              "XX", result.rendering_npi)  # fmt: skip
    remarks = [REMARKS[result.claim_denial]] if result.claim_denial in REMARKS else []
    if remarks:
        w.add("MOA", "", "", *remarks)  # a professional claim's claim-level remark codes
    days = [line.day for line in result.lines] or [result.received]
    w.add("DTM", "232", min(days).strftime("%Y%m%d"))
    w.add("DTM", "233", max(days).strftime("%Y%m%d"))
    w.add("DTM", "050", result.received.strftime("%Y%m%d"))
    if result.claim_denial:
        return  # denied as a whole: no service lines
    for line in result.lines:
        _line(w, line, sign)


def _plb(w: Writer, remittance: Remittance) -> None:
    npi = remittance.payee[0]
    fiscal_year_end = f"{remittance.day.year}1231"
    adjustments = remittance.adjustments
    for start in range(0, len(adjustments), PER_PLB):
        elements: list[str] = []
        for adj in adjustments[start : start + PER_PLB]:
            elements += [f"{adj.code}{w.delims.component}{adj.reference}", money(adj.amount)]
        w.add("PLB", npi, fiscal_year_end, *elements)


def _financial(w: Writer, remittance: Remittance) -> None:
    payer, day = remittance.payer, remittance.day.strftime("%Y%m%d")
    amount = remittance.amount
    if amount == 0:
        w.add("BPR", "H", "0", "C", "NON", *[""] * 11, day)
    else:
        routing, account = payer.bank
        payee_routing, payee_account = remittance.payee_bank
        w.add("BPR", "I", money(amount), "C", "ACH", "CCP", "01", routing, "DA", account,
              f"1{payer.ein}", "", "01", payee_routing, "DA", payee_account, day)  # fmt: skip
    w.add("TRN", "1", remittance.trace, f"1{payer.ein}")
    w.add("DTM", "405", day)


def _parties(w: Writer, remittance: Remittance) -> None:
    payer = remittance.payer
    street, city, state, zip_code = payer.address
    w.add("N1", "PR", payer.name.upper())
    w.add("N3", street)
    w.add("N4", city, state, zip_code)
    w.add("PER", "BL", "EDI SUPPORT", "TE", payer.phone)
    npi, name, tin = remittance.payee
    w.add("N1", "PE", name, "XX", npi)
    if tin:
        w.add("REF", "TJ", tin)


def write_835(remittance: Remittance, control: Control, parties: tuple[str, str],
              usage: str) -> str:  # fmt: skip
    """One interchange holding one 835 set, from parties[0] (this clearinghouse) to parties[1]."""
    if remittance.amount < 0:
        raise ValueError("a payment cannot be negative: carry the balance in a PLB")
    w = Writer(Delimiters())
    at, number = control.at, control.number
    w.add(
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", parties[0].ljust(15), "ZZ",
        parties[1].ljust(15), at.strftime("%y%m%d"), at.strftime("%H%M"), w.delims.repetition,
        "00501", f"{number:09d}", "0", usage, w.delims.component,
    )  # fmt: skip
    w.add("GS", "HP", remittance.payer.id, parties[1], at.strftime("%Y%m%d"),
          at.strftime("%H%M"), str(number), "X", VERSION)  # fmt: skip
    st_index = len(w.segments)
    w.add("ST", "835", "0001")  # ST03 is not used in the 835 guide
    _financial(w, remittance)
    _parties(w, remittance)
    if remittance.claims:
        w.add("LX", "1")
        for result, reversal in remittance.claims:
            _claim(w, result, reversal)
    _plb(w, remittance)
    w.add("SE", str(len(w.segments) - st_index + 1), "0001")
    w.add("GE", "1", str(number))
    w.add("IEA", "1", f"{number:09d}")
    return w.text()
