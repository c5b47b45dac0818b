"""The payers' payment runs: which adjudicated claims each 835 reports, and the 835s kept.

A run takes, in adjudication order, every claim adjudicated by its cutoff that no 835 reported
yet, except those a payer holds (`held`, by CLM01), and writes one 835 per payer and payee. A
claim is reported once. A replacement (frequency 7) first reverses its original (CLP02 22, the
original's CLP01 and CLP07) and then reports the corrected claim, in the same 835 unless the
correction is held, which sends it in a later one; a void (8) is only the reversal. Neither
goes out before its original was reported (in an earlier run or earlier in the same 835).

PLB: a claim paid more than the payer's prompt-pay days after it was received earns interest
(L6, negative: it raises the payment). When reversals exceed what a payment holds, the payer
defers the recovery (WO, negative, naming the reversed claim's CLM01) so BPR02 is 0, and
recovers it from that payee's next payments (WO, positive). Each 835 is kept as written and
served identically on every request for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from infra.clearinghouse.adjudication import ClaimResult
from infra.clearinghouse.claims import Payers
from infra.clearinghouse.x12 import Control
from infra.clearinghouse.x835 import ProviderAdjustment, Remittance, write_835

KEPT = 50_000  # 835s remembered; the oldest are forgotten past this
Item = tuple[ClaimResult, bool]  # a claim reported, True: its reversal


@dataclass(frozen=True)
class Era:
    """One 835 as written."""

    control: str  # ISA13, nine digits: the cursor a retrieval names
    trace: str  # TRN02
    payer: str
    payee: str  # NPI
    day: date
    amount: int  # BPR02, cents
    claims: tuple[str, ...]  # CLP01 in order; a reversal as "CLM01 (22)"
    text: str


@dataclass
class Remitter:
    payers: Payers
    eras: list[Era] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # CLM01s the payers keep pending
    # (payer, payee NPI) -> [CLM01 of a reversed claim, cents still to recover]
    owed: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)

    def run(self, day: date, cutoff: datetime | None, control: Callable[[], Control],
            parties: tuple[str, str]) -> list[Era]:  # fmt: skip
        """One payment run as of `day`, for claims adjudicated by `cutoff` (None: all)."""
        groups: dict[tuple[str, str], list[Item]] = {}
        for result, reversal in self._due(cutoff):
            groups.setdefault((result.payer, result.payee[0]), []).append((result, reversal))
        written = []
        for (payer_id, _), items in groups.items():
            payer = self.payers.world.payer_rules[payer_id]
            ctl = control()
            remittance = Remittance(
                payer=payer, payee=items[0][0].payee, payee_bank=self.payers.world.payee_bank,
                trace=f"{payer_id}{ctl.number:09d}", day=day, claims=items,
            )  # fmt: skip
            remittance.adjustments = self._adjustments(remittance)
            text = write_835(remittance, ctl, parties, self.payers.usage)
            for result, reversal in items:
                if not reversal:
                    result.remitted = remittance.trace
                    continue
                result.reversed_in = remittance.trace
                void = self.payers.results[result.adjusted_by]
                if void.status == "void":
                    void.remitted = remittance.trace  # the 835 that carried its reversal
            era = Era(
                control=f"{ctl.number:09d}", trace=remittance.trace, payer=payer_id,
                payee=remittance.payee[0], day=day, amount=remittance.amount,
                claims=tuple(r.claim_id + (" (22)" if rev else "") for r, rev in items),
                text=text,
            )  # fmt: skip
            written.append(era)
        self.eras.extend(written)
        del self.eras[:-KEPT]
        return written

    def after(self, cursor: str) -> Era | None:
        """The 835 after the one whose ISA13 is `cursor`; from the first for "000000000" or a
        cursor this simulator does not know (a restart: the client's trace check drops repeats).
        """
        controls = [era.control for era in self.eras]
        start = controls.index(cursor) + 1 if cursor in controls else 0
        return self.eras[start] if start < len(self.eras) else None

    def _due(self, cutoff: datetime | None) -> list[Item]:
        items: list[Item] = []
        reported: set[str] = set()  # payer claim numbers reported in this run
        for result in self.payers.results.values():
            if result.remitted or result.adjudicated_at is None:
                continue
            if cutoff is not None and result.adjudicated_at > cutoff:
                continue
            if result.frequency == "8" and result.claim_id in self.held:
                continue
            original = self.payers.results.get(result.original) if result.original else None
            if original is not None and not original.reversed_in:
                if not original.remitted and original.payer_claim_number not in reported:
                    continue  # the original is not reported yet: nothing to reverse
                items.append((original, True))  # once: only one claim replaces or voids it
            if result.status == "void" or result.claim_id in self.held:
                continue  # a void's 835 is its original's reversal
            items.append((result, False))
            reported.add(result.payer_claim_number)
        return items

    def _adjustments(self, remittance: Remittance) -> list[ProviderAdjustment]:
        """L6 interest on late claims, then WO: recover what the payee owes, or defer a deficit."""
        payer = remittance.payer
        adjustments = []
        for result, reversal in remittance.claims:
            late = (remittance.day - result.received).days - payer.prompt_pay_days
            if reversal or late <= 0 or result.paid <= 0:
                continue
            interest = Decimal(result.paid) * payer.interest_rate * late / 365
            cents = int(interest.quantize(Decimal(1), ROUND_HALF_UP))
            if cents:
                adjustments.append(ProviderAdjustment("L6", result.claim_id, -cents))
        remittance.adjustments = adjustments
        key = (payer.id, remittance.payee[0])
        owed = self.owed.setdefault(key, [])
        net = remittance.amount
        while owed and net > 0:
            reference, cents = owed[0]
            taken = min(cents, net)
            adjustments.append(ProviderAdjustment("WO", reference, taken))
            net -= taken
            if taken == cents:
                owed.pop(0)
            else:
                owed[0] = (reference, cents - taken)
        for result, reversal in remittance.claims:
            if net >= 0:
                break
            if reversal and result.paid > 0:
                deferred = min(result.paid, -net)
                adjustments.append(ProviderAdjustment("WO", result.claim_id, -deferred))
                owed.append((result.claim_id, deferred))
                net += deferred
        return adjustments
