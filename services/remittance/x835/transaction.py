"""One 835 transaction set (ST..SE): its header, payer and payee, claims and PLB, and its checks.

The loop a segment belongs to (header, payer 1000A, payee 1000B, detail, PLB footer) decides what
a REF or DTM means, so the builder keeps where it is; a claim's own segments are read, from the
reader's iterator, by claim.read_claim. Checked when the transaction closes: SE01 counts ST..SE,
SE02 repeats ST02, and the signed BPR02 is ΣCLP04 less ΣPLB (DESIGN.md "835 balancing").
CLP05 against the PR adjustments is a warning only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.remittance import (
    Claim,
    Envelope,
    ParseWarning,
    Party,
    ProviderAdjustment,
    Reference,
    Remittance,
    Totals,
)
from services.core.x12 import Delimiters
from services.remittance.x835 import elements as el
from services.remittance.x835.claim import Numbered, read_claim
from services.remittance.x835.stream import X835Error

_PLB_LAST = 14  # six pairs: PLB03-04 ... PLB13-14
# Where claims (CLP), LX and PLB may stand: after the payee. LX is required by the guide, but
# some payers omit it: a CLP right after the payee is read all the same (nothing depends on LX).
_DETAIL = frozenset({"payee", "detail", "footer"})
_CLAIMS = _DETAIL - {"footer"}


class _Party:
    __slots__ = ("fields", "references")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.references: list[Reference] = []

    def build(self) -> Party:
        return Party(**self.fields, references=tuple(self.references))


class TransactionBuilder:
    """Feed it the segments between ST and SE; `finish` checks and returns the Remittance."""

    def __init__(self, envelope: Envelope, st: list[str], position: int, d: Delimiters) -> None:
        self.envelope = envelope
        self.position = position
        self.control = el.text(st, 2, position)
        self.component = d.component
        self.loop = "start"
        self.header: dict[str, Any] = {}
        self.bpr_position = 0
        self.references: list[Reference] = []
        self.parties: dict[str, _Party] = {}
        self.claims: list[Claim] = []
        self.plbs: list[ProviderAdjustment] = []
        self.warnings: list[ParseWarning] = []

    def feed(self, seg: list[str], position: int) -> None:
        """One segment between ST and SE that is not part of a claim (the reader keeps those)."""
        handler = _HANDLERS.get(seg[0])
        if handler is None:
            raise X835Error("is out of place, or not a segment of an 835", seg[0], position)
        handler(self, seg, position)

    def _where(self, seg: list[str], position: int, allowed: frozenset[str], what: str) -> None:
        if self.loop not in allowed:
            raise X835Error(f"is out of place: {what}", seg[0], position)

    def bpr(self, seg: list[str], position: int) -> None:
        self._where(seg, position, frozenset({"start"}), "BPR comes once, right after ST")
        credit_debit = el.text(seg, 3, position)
        if credit_debit not in ("C", "D"):
            raise el.refuse(seg, 3, position, "must be C (credit) or D (debit)")
        amount = el.money(seg, 2, position)
        if amount < 0:
            raise el.refuse(seg, 2, position, "is negative (BPR03 D says a debit)")
        self.header.update(
            handling=el.text(seg, 1, position),
            amount_cents=amount,
            credit_debit=credit_debit,
            payment_method=el.text(seg, 4, position),
            payment_format=el.optional(seg, 5),
            payment_date=el.day(seg, 16, position),
        )
        self.bpr_position = position
        self.loop = "bpr"

    def trn(self, seg: list[str], position: int) -> None:
        self._where(seg, position, frozenset({"bpr"}), "TRN comes once, right after BPR")
        self.header.update(
            trace_type=el.text(seg, 1, position),
            trace_number=el.text(seg, 2, position),
            trace_originator=el.text(seg, 3, position),
            trace_supplement=el.optional(seg, 4),
        )
        self.loop = "header"

    def cur(self, seg: list[str], position: int) -> None:
        self._where(seg, position, frozenset({"header"}), "CUR belongs to the header")
        if el.text(seg, 2, position) != "USD":
            raise el.refuse(seg, 2, position, "is not USD: only dollar payments are posted")

    def ref(self, seg: list[str], position: int) -> None:
        reference = Reference(qualifier=el.text(seg, 1, position), value=el.text(seg, 2, position))
        if self.loop == "header":
            self.references.append(reference)
        else:
            self._party(seg, position).references.append(reference)

    def dtm(self, seg: list[str], position: int) -> None:
        self._where(seg, position, frozenset({"header"}), "DTM*405 belongs to the header")
        if el.text(seg, 1, position) != "405":
            raise el.refuse(seg, 1, position, "must be 405 (production date) in the header")
        self.header["production_date"] = el.day(seg, 2, position)

    def n1(self, seg: list[str], position: int) -> None:
        entity = el.text(seg, 1, position)
        after = {"PR": "header", "PE": "payer"}.get(entity)
        if after is None:
            raise el.refuse(seg, 1, position, "must be PR (payer) or PE (payee)")
        self._where(seg, position, frozenset({after}), "the payer (N1*PR), then the payee")
        self.parties[entity] = _Party(
            {"entity": entity, "name": el.text(seg, 2, position),
             "id_qualifier": el.optional(seg, 3), "id": el.optional(seg, 4)}
        )  # fmt: skip
        self.loop = "payer" if entity == "PR" else "payee"

    def n3(self, seg: list[str], position: int) -> None:
        party = self._party(seg, position)
        party.fields["address_lines"] = tuple(v for v in seg[1:3] if v)

    def n4(self, seg: list[str], position: int) -> None:
        party = self._party(seg, position)
        party.fields.update(city=el.optional(seg, 1), state=el.optional(seg, 2),
                            zip=el.optional(seg, 3))  # fmt: skip

    def contact(self, seg: list[str], position: int) -> None:  # PER, RDM: nothing to post
        self._party(seg, position)

    def _party(self, seg: list[str], position: int) -> _Party:
        self._where(seg, position, frozenset({"payer", "payee"}), "it belongs to N1*PR or N1*PE")
        return self.parties["PR" if self.loop == "payer" else "PE"]

    def lx(self, seg: list[str], position: int) -> None:
        self._where(seg, position, _CLAIMS, "LX follows the payee, before any PLB")
        self.loop = "detail"

    def ts(self, seg: list[str], position: int) -> None:  # TS3, TS2: provider summary
        self._where(seg, position, frozenset({"detail"}), "it follows LX")

    def read_claim(
        self, clp: list[str], position: int, segments: Numbered
    ) -> tuple[int, list[str]]:
        """The claim whose CLP is at `position`, read on from `segments`; returns the segment that
        closed it (the next CLP, an LX, PLB or SE, or what is out of place) and its position."""
        if self.loop not in _CLAIMS:  # _where, inline: once per claim
            raise X835Error(
                "is out of place: CLP follows the payee, before any PLB", "CLP", position
            )
        claim, patient, at, seg = read_claim(clp, position, segments, self.component)
        if (claim.patient_responsibility_cents or 0) != patient:
            self.warnings.append(
                ParseWarning(
                    code="patient_responsibility_mismatch",
                    segment="CLP",
                    position=position,
                    message=f"CLP05 is not the sum of the PR adjustments ({el.dollars(patient)})",
                )
            )
        self.claims.append(claim)
        return at, seg

    def plb(self, seg: list[str], position: int) -> None:
        self._where(seg, position, _DETAIL, "PLB follows the payee and the claims")
        self.loop = "footer"
        if len(seg) > _PLB_LAST + 1:
            raise X835Error("has more than six adjustments", "PLB", position)
        provider, period = el.text(seg, 1, position), el.day(seg, 2, position)
        for i in range(3, max(len(seg), 4), 2):
            parts = el.text(seg, i, position).split(self.component)
            if not parts[0]:
                raise el.refuse(seg, i, position, "needs its adjustment reason code")
            self.plbs.append(
                ProviderAdjustment(
                    provider_id=provider,
                    fiscal_period_end=period,
                    reason=parts[0],
                    reference=parts[1] if len(parts) > 1 and parts[1] else None,
                    amount_cents=el.money(seg, i + 1, position),
                    position=position,
                )
            )

    def finish(self, se: list[str], position: int) -> Remittance:
        """Close the transaction at its SE: counts, control number, then the payment's balance."""
        if "PE" not in self.parties:
            raise X835Error("the transaction lacks BPR, TRN, N1*PR or N1*PE", "SE", position)
        count = position - self.position + 1
        if el.text(se, 1, position) != str(count):
            raise el.refuse(se, 1, position, f"does not count the {count} segments ST..SE")
        if el.text(se, 2, position) != self.control:
            raise el.refuse(se, 2, position, "does not repeat ST02")
        totals = self._totals()
        if totals.payment_cents != totals.paid_cents - totals.provider_adjustment_cents:
            raise X835Error(
                f"the payment does not balance: BPR02 {el.dollars(totals.payment_cents)} is not"
                f" the claims' CLP04 {el.dollars(totals.paid_cents)} less the PLB adjustments"
                f" {el.dollars(totals.provider_adjustment_cents)}",
                "BPR",
                self.bpr_position,
            )
        return Remittance(
            envelope=self.envelope,
            control_number=self.control,
            **self.header,
            references=tuple(self.references),
            payer=self.parties["PR"].build(),
            payee=self.parties["PE"].build(),
            claims=tuple(self.claims),
            provider_adjustments=tuple(self.plbs),
            totals=totals,
            warnings=tuple(self.warnings),
            position=self.position,
            segments=count,
        )

    def _totals(self) -> Totals:
        amount = self.header["amount_cents"]
        return Totals(
            claims=len(self.claims),
            charge_cents=sum(c.charge_cents for c in self.claims),
            paid_cents=sum(c.paid_cents for c in self.claims),
            patient_responsibility_cents=sum(
                c.patient_responsibility_cents or 0 for c in self.claims
            ),
            provider_adjustment_cents=sum(p.amount_cents for p in self.plbs),
            payment_cents=-amount if self.header["credit_debit"] == "D" else amount,
        )


_HANDLERS: dict[str, Callable[[TransactionBuilder, list[str], int], None]] = {
    "BPR": TransactionBuilder.bpr,
    "TRN": TransactionBuilder.trn,
    "CUR": TransactionBuilder.cur,
    "REF": TransactionBuilder.ref,
    "DTM": TransactionBuilder.dtm,
    "N1": TransactionBuilder.n1,
    "N3": TransactionBuilder.n3,
    "N4": TransactionBuilder.n4,
    "PER": TransactionBuilder.contact,
    "RDM": TransactionBuilder.contact,
    "LX": TransactionBuilder.lx,
    "TS3": TransactionBuilder.ts,
    "TS2": TransactionBuilder.ts,
    "PLB": TransactionBuilder.plb,
}
