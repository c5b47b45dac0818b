"""A payer adjudicating an accepted claim by its world's rules, line by line.

Denials (group CO, the whole charge): B7 the rendering provider was not credentialed on the date
of service, 29 past the payer's filing limit, 27 coverage not active on that date, 204 the plan
does not cover the service in network, 96 a code not on the payer's fee schedule, 185 a code the
provider is not credentialed to bill, 18 the same service already adjudicated, 197 a required
prior authorization absent, unknown, expired or used up. A paid line: CO-45 the charge over the
fee schedule; the client's share as the 271 describes it (the estimate's formula): PR-1 the
remaining deductible, then PR-3 the copay (once per claim, never more than the rest) or PR-2 the
coinsurance (rounded half up), all capped by the remaining out-of-pocket (the smaller of IND and
FAM); PR-119 the whole allowed amount once the plan's visit limit is used up. What the claim used
is recorded in the world, so the next 271 and the next claim see it.

A post-payment review (`deny_on_review`) takes a paid claim back: the payer finds it not payable
after all (CO-50 not medically necessary, say), and adjudicates it again with every line denied
for that reason, under a new payer claim number; the remittance reverses the original first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from infra.clearinghouse.world import Claim as Used
from infra.clearinghouse.world import Member, Payer, Person, Tier, World
from infra.clearinghouse.x837 import Claim, Line

ADD_ON_CODES = ("90785",)  # interactive complexity: no visit of its own, no authorization


@dataclass
class Adjustment:
    group: str  # CO, PR
    reason: str  # CARC
    amount: int  # cents


@dataclass
class LineResult:
    number: int
    control: str  # REF*6R, returned in the 835
    cpt: str
    modifiers: list[str]
    day: date
    charge: int
    allowed: int
    paid: int
    adjustments: list[Adjustment] = field(default_factory=list)


@dataclass
class ClaimResult:
    """A payer's decision on one claim version, kept for the remittance (835) to report."""

    payer_claim_number: str
    claim_id: str  # CLM01 as received
    payer: str
    member_id: str
    person: str  # the world's key of the person treated
    rendering_npi: str
    frequency: str
    received: date
    status: str  # processed, denied, or void (a frequency 8: the original is reversed)
    charge: int
    paid: int = 0
    patient_responsibility: int = 0
    prior_auth: str = ""
    original: str = ""  # REF*F8: the payer claim number this one replaces or voids
    state: str = "active"  # active, replaced, voided
    adjusted_by: str = ""  # the payer claim number that replaced or voided it
    lines: list[LineResult] = field(default_factory=list)
    # What the 835 repeats from the claim (claims.describe fills them in).
    place: str = ""  # CLM05-1
    patient: tuple[str, str] = ("", "")  # (last, first) of the person treated
    insured: tuple[str, str] = ("", "")  # the subscriber's, when a dependant was treated
    rendering_name: tuple[str, str] = ("", "")
    payee: tuple[str, str, str] = ("", "", "")  # billing (NPI, name, TIN)
    claim_denial: str = ""  # a CARC that denied the whole claim: the 835 says it at claim level
    adjudicated_at: datetime | None = None
    remitted: str = ""  # TRN02 of the 835 that reported it
    reversed_in: str = ""  # TRN02 of the 835 that reversed it


@dataclass
class _Remaining:
    deductible: int
    out_of_pocket: int | None  # None: no cap
    copay_left: int


def _remaining(amount: tuple[int | None, int | None], used: tuple[int, int]) -> int | None:
    left = [total - spent for total, spent in zip(amount, used, strict=True) if total is not None]
    return max(0, min(left)) if left else None


def in_network_tier(world: World, member: Member) -> Tier | None:
    plan = world.plans[member.plan]
    tiers = plan.mental_health if plan.mental_health is not None else plan.general
    return tiers.get("in")


def _claim_denial(world: World, claim: Claim, member: Member, payer: Payer, received: date) -> str:
    day = claim.first_day or received
    if not any(credential.covers(day) for credential in payer.credentials(claim.rendering_npi)):
        return "B7"
    if (received - day).days > payer.filing_limit_days:
        return "29"
    if not member.active_on(day):
        return "27"
    tier = in_network_tier(world, member)
    if tier is None or not tier.covered:
        return "204"
    return ""


class Adjudicator:
    """One claim's adjudication against the world and the results adjudicated before it."""

    def __init__(self, world: World, results: dict[str, ClaimResult], claim: Claim,
                 member: Member, person: Person) -> None:  # fmt: skip
        self.world, self.results, self.claim = world, results, claim
        self.member, self.person = member, person
        self.payer = world.payer_rules[claim.payer_id]

    def run(self, number: str, received: date) -> ClaimResult:
        claim = self.claim
        result = ClaimResult(
            payer_claim_number=number, claim_id=claim.id, payer=claim.payer_id,
            member_id=self.member.member_id, person=self.person.key,
            rendering_npi=claim.rendering_npi, frequency=claim.frequency, received=received,
            status="processed", charge=claim.charge, prior_auth=claim.prior_auth,
            original=claim.original,
        )  # fmt: skip
        denial = _claim_denial(self.world, claim, self.member, self.payer, received)
        tier = in_network_tier(self.world, self.member)
        remaining = self._remaining(tier, claim.first_day or received) if tier else None
        visit = False
        for line in claim.lines:
            day = line.day or claim.first_day or received
            reason = denial or self._line_denial(line, day, tier)
            outcome = LineResult(line.number, line.control, line.cpt, list(line.modifiers), day,
                                 line.charge, 0, 0)  # fmt: skip
            if reason:
                outcome.adjustments.append(Adjustment("CO", reason, line.charge))
            else:
                assert tier is not None
                assert remaining is not None
                visit = self._pay(outcome, tier, remaining) or visit
            result.lines.append(outcome)
        result.claim_denial = denial
        result.paid = sum(line.paid for line in result.lines)
        result.patient_responsibility = sum(
            adj.amount for line in result.lines for adj in line.adjustments if adj.group == "PR"
        )
        if all(line.allowed == 0 for line in result.lines):
            result.status = "denied"
        self._record(result, visit)
        return result

    def _remaining(self, tier: Tier, day: date) -> _Remaining:
        _, year_end = self.world.plans[self.member.plan].year(day)
        used = self.world.used(self.member, self.person, "in", year_end)
        family = self.member.coverage == "FAM"
        ded = _remaining((tier.deductible.ind, tier.deductible.fam if family else None),
                         (used.deductible, used.family_deductible))  # fmt: skip
        oop = _remaining((tier.out_of_pocket.ind, tier.out_of_pocket.fam if family else None),
                         (used.out_of_pocket, used.family_out_of_pocket))  # fmt: skip
        return _Remaining(ded or 0, oop, tier.copay or 0)

    def _line_denial(self, line: Line, day: date, tier: Tier | None) -> str:
        if line.cpt not in self.payer.fee_schedule:
            return "96"
        credentials = [c for c in self.payer.credentials(self.claim.rendering_npi) if c.covers(day)]
        if not credentials:
            return "B7"  # a line on a day the claim's first day's credential does not cover
        if all(c.cpts is not None and line.cpt not in c.cpts for c in credentials):
            return "185"
        if self._duplicate(line, day):
            return "18"
        needs_auth = tier is not None and tier.prior_auth and line.cpt not in ADD_ON_CODES
        return "197" if needs_auth and not self._authorized(line, day) else ""

    def _active(self) -> list[ClaimResult]:
        return [r for r in self.results.values() if r.state == "active" and r.status != "void"]

    def _duplicate(self, line: Line, day: date) -> bool:
        for prior in self._active():
            if (prior.person, prior.rendering_npi) != (self.person.key, self.claim.rendering_npi):
                continue
            for done in prior.lines:
                service = (done.cpt, tuple(done.modifiers), done.day)
                if service == (line.cpt, line.modifiers, day) and done.allowed > 0:
                    return True
        return False

    def _authorized(self, line: Line, day: date) -> bool:
        auth = self.world.prior_auths.get(self.claim.prior_auth)
        if auth is None or (auth.payer, auth.person) != (self.payer.id, self.person.key):
            return False
        if line.cpt not in auth.cpts or not auth.start <= day <= auth.end:
            return False
        used = [r for r in self._active() if r.prior_auth == auth.number and r.status != "denied"]
        return len(used) < auth.visits

    def _pay(self, outcome: LineResult, tier: Tier, left: _Remaining) -> bool:
        """Price one covered line; True when it counts as a visit."""
        allowed = min(self.payer.fee_schedule[outcome.cpt], outcome.charge)
        outcome.allowed = allowed
        if outcome.charge > allowed:
            outcome.adjustments.append(Adjustment("CO", "45", outcome.charge - allowed))
        add_on = outcome.cpt in ADD_ON_CODES
        if tier.visit_limit is not None and not add_on:
            _, year_end = self.world.plans[self.member.plan].year(outcome.day)
            used = self.world.used(self.member, self.person, "in", year_end).visits
            if used >= tier.visit_limit:
                outcome.adjustments.append(Adjustment("PR", "119", allowed))
                return False
        deductible = min(left.deductible, allowed)
        rest = allowed - deductible
        copay = coinsurance = 0
        if left.copay_left:
            copay = min(left.copay_left, rest)
            left.copay_left -= copay
        elif tier.coinsurance is not None:
            share = Decimal(rest) * tier.coinsurance
            coinsurance = int(share.quantize(Decimal(1), ROUND_HALF_UP))
        if left.out_of_pocket is not None:
            # The cap takes the coinsurance or copay first, the deductible last.
            over = max(0, deductible + copay + coinsurance - left.out_of_pocket)
            cut = min(over, coinsurance)
            coinsurance, over = coinsurance - cut, over - cut
            cut = min(over, copay)
            copay, deductible = copay - cut, deductible - (over - cut)
            left.out_of_pocket -= deductible + copay + coinsurance
        left.deductible -= deductible
        for reason, amount in (("1", deductible), ("2", coinsurance), ("3", copay)):
            if amount:
                outcome.adjustments.append(Adjustment("PR", reason, amount))
        outcome.paid = allowed - deductible - copay - coinsurance
        return not add_on

    def _record(self, result: ClaimResult, visit: bool) -> None:
        deductible = sum(a.amount for line in result.lines for a in line.adjustments
                         if (a.group, a.reason) == ("PR", "1"))  # fmt: skip
        spent = sum(a.amount for line in result.lines for a in line.adjustments
                    if a.group == "PR" and a.reason in ("1", "2", "3"))  # fmt: skip
        if deductible or spent or visit:
            day = result.lines[0].day if result.lines else result.received
            self.world.record_claim(Used(result.person, day, "in", deductible, spent,
                                         1 if visit else 0, result.payer_claim_number))  # fmt: skip


def deny_on_review(original: ClaimResult, number: str, reason: str, at: datetime) -> ClaimResult:
    """The paid claim adjudicated again after a post-payment review, as payer claim number
    `number`: every line denied CO-`reason` for its whole charge (nothing paid, nothing the
    client owes), the original named so the 835 reverses it first."""
    lines = [
        LineResult(line.number, line.control, line.cpt, list(line.modifiers), line.day,
                   line.charge, 0, 0, [Adjustment("CO", reason, line.charge)])
        for line in original.lines
    ]  # fmt: skip
    return replace(
        original, payer_claim_number=number, status="denied", paid=0, patient_responsibility=0,
        original=original.payer_claim_number, state="active", adjusted_by="", lines=lines,
        adjudicated_at=at, remitted="", reversed_in="",
    )  # fmt: skip
