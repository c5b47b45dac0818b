"""The payers receiving an 837P batch: the acknowledgements, the front door, adjudication.

An interchange refused by its envelope gets a TA1 and nothing else. Otherwise the 999 answers
every transaction set; the claims of the sets it accepted pass each payer's front door (277CA:
unknown member A3:33, a rendering provider the payer has never credentialed A7:562:82, an office
claim without its 2310C service facility A6:126:77, a replacement or void without a payer claim
number A6:464 or with one the payer does not know A7:464), and each claim accepted there gets a
payer claim number (REF*1K) and is adjudicated (adjudication.py). A replacement (frequency 7)
takes the original's accumulators out and is adjudicated anew; a void (8) only takes them out.
A post-payment review (`take_back`) does what a replacement does on the payer's own initiative:
a claim already paid is adjudicated again, denied, and its next 835 reverses the payment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from infra.clearinghouse.acks import ClaimAck, set_accepted, write_277ca, write_999, write_ta1
from infra.clearinghouse.adjudication import Adjudicator, ClaimResult, deny_on_review
from infra.clearinghouse.world import World
from infra.clearinghouse.x12 import Control
from infra.clearinghouse.x837 import Claim, InterchangeError, read_837, read_isa

OFFICE = "11"


class TakebackRefused(Exception):
    """A takeback the payers cannot make: `status` 404 (no such claim) or 409 (nothing paid)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BatchAnswer:
    """What a batch's retrieval requests fetch: its 999 (or TA1) and its 277CA (None: none)."""

    acknowledgement: str
    refused: bool  # True: the acknowledgement is a TA1 (the interchange was refused)
    claim_acknowledgement: str | None


@dataclass
class Payers:
    """The payers' side of claims: their world, their results, their claim number counters."""

    world: World
    results: dict[str, ClaimResult] = field(default_factory=dict)  # by payer claim number
    counters: dict[str, int] = field(default_factory=dict)
    usage: str = "T"  # ISA15 of the last interchange received: the 835s answer in kind

    def next_number(self, payer: str) -> str:
        self.counters[payer] = self.counters.get(payer, 0) + 1
        return f"{payer}{self.counters[payer]:08d}"

    def receive(self, text: str, parties: tuple[str, str], received: date,
                controls: tuple[Control, Control]) -> BatchAnswer:  # fmt: skip
        """Acknowledge and adjudicate one 837P interchange, as of the day it was received.

        X12Error when the payload has no readable ISA (nothing a TA1 could answer)."""
        isa, segments = read_isa(text)  # X12Error: no interchange to acknowledge at all
        self.usage = isa.usage
        try:
            interchange = read_837(isa, segments, parties)
        except InterchangeError as error:
            return BatchAnswer(write_ta1(isa, error.code, controls[0]), True, None)
        acknowledgement = write_999(interchange, controls[0])
        claims = [claim for tset in interchange.sets if set_accepted(tset) for claim in tset.claims]
        if not claims:
            return BatchAnswer(acknowledgement, False, None)
        if interchange.submitter_id != isa.sender[1]:
            # 1000A names a submitter other than the interchange's sender: not an approved
            # electronic submitter, so 2200B refuses every claim (STC03 U) and none is read.
            acks = [ClaimAck(claim, "A3", "24", "41") for claim in claims]
        else:
            acks = [self.front_door(claim, received, controls[1].at) for claim in claims]
        names = {payer.id: payer.name for payer in self.world.payer_rules.values()}
        text_277 = write_277ca(interchange, acks, names, received, controls[1])
        return BatchAnswer(acknowledgement, False, text_277)

    def front_door(self, claim: Claim, received: date, at: datetime) -> ClaimAck:
        """The 277CA's answer to one claim; an accepted claim is adjudicated at once (`at`)."""
        rejection = self._rejection(claim)
        if rejection is not None:
            return rejection
        number = self.next_number(claim.payer_id)
        original = self.results.get(claim.original)
        if original is not None and claim.frequency in ("7", "8"):
            original.state = "replaced" if claim.frequency == "7" else "voided"
            original.adjusted_by = number
            self.world.forget_claim(original.payer_claim_number)
        found = self.world.person(claim.subscriber.member_id, _patient(claim))
        assert found is not None  # the front door checked it
        member, person = found
        if claim.frequency == "8":
            result = ClaimResult(
                payer_claim_number=number, claim_id=claim.id, payer=claim.payer_id,
                member_id=member.member_id, person=person.key, rendering_npi=claim.rendering_npi,
                frequency="8", received=received, status="void", charge=claim.charge,
                original=claim.original,
            )  # fmt: skip
        else:
            result = Adjudicator(self.world, self.results, claim, member, person).run(
                number, received
            )
        describe(result, claim, at)
        self.results[number] = result
        return ClaimAck(claim, "A2", "20", payer_claim_number=number)

    def take_back(self, claim_id: str, reason: str, at: datetime) -> ClaimResult:
        """A post-payment review of the paid claim `claim_id` (CLM01): the payer denies it for
        `reason` (a CARC) under a new payer claim number, the payment to be reversed by the
        next 835, and gives back what it used of the accumulators."""
        found = [
            r for r in self.results.values()
            if (r.claim_id, r.state) == (claim_id, "active") and r.status != "void"
        ]  # fmt: skip
        if not found:
            raise TakebackRefused(f"no claim {claim_id} stands with the payers", 404)
        original = found[-1]
        if not original.remitted or original.paid <= 0:
            raise TakebackRefused(
                f"claim {claim_id} ({original.payer_claim_number}) was not paid yet: nothing to"
                " take back", 409,
            )  # fmt: skip
        number = self.next_number(original.payer)
        original.state, original.adjusted_by = "replaced", number
        self.world.forget_claim(original.payer_claim_number)
        result = deny_on_review(original, number, reason, at)
        self.results[number] = result
        return result

    def _rejection(self, claim: Claim) -> ClaimAck | None:
        payer = self.world.payer_rules.get(claim.payer_id)
        if payer is None:
            return ClaimAck(claim, "A3", "21", "PR")  # missing or invalid information: payer
        if claim.billing_npi not in payer.billing_npis:
            return ClaimAck(claim, "A3", "562", "85")  # billing provider's NPI: no contract
        found = self.world.person(claim.subscriber.member_id, _patient(claim))
        if found is None or found[0].payer != payer.id:
            entity = "QC" if claim.patient is not None else "IL"
            return ClaimAck(claim, "A3", "33", entity)  # subscriber and subscriber id not found
        if not payer.credentials(claim.rendering_npi):
            return ClaimAck(claim, "A7", "562", "82")  # rendering provider's NPI
        if claim.place == OFFICE and not claim.facility:
            return ClaimAck(claim, "A6", "126", "77")  # service location's address missing
        if claim.frequency in ("7", "8"):
            if not claim.original:
                return ClaimAck(claim, "A6", "464")  # payer assigned claim control number
            original = self.results.get(claim.original)
            if original is None or original.state != "active" or original.payer != payer.id:
                return ClaimAck(claim, "A7", "464")
        return None


def describe(result: ClaimResult, claim: Claim, at: datetime) -> None:
    """Keep what the claim's 835 repeats: place, names, the payee, when it was adjudicated."""
    person = claim.patient or claim.subscriber
    result.place, result.patient = claim.place, (person.last, person.first)
    if claim.patient is not None:
        result.insured = (claim.subscriber.last, claim.subscriber.first)
    result.rendering_name = claim.rendering_name
    result.payee = (claim.billing_npi, claim.billing_name, claim.billing_tin)
    result.adjudicated_at = at


def _patient(claim: Claim) -> tuple[str, str] | None:
    return None if claim.patient is None else (claim.patient.first, claim.patient.last)
