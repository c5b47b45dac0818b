"""The payers' world: payers, plans, members and the claims that fill their accumulators.

The state is data (world.json), loaded once per process. Accumulators are not stored: they are
sums over recorded claims (`Claim`) of one person in the plan year that contains the date asked
about, up to and including that date. So a 270 dated 2026-11-26 sees every 2026 claim, one
dated 2026-03-01 sees only the claims before it, and one dated 2027-01-05 sees a fresh year.
Adjudicated 837 claims add theirs with `World.record_claim` (and a void or replacement takes
them out again with `World.forget_claim`). Each payer also has its fee schedule, filing limit,
contracted billing NPIs and credentialed rendering providers; `prior_auths` are the
authorizations the payers know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

WORLD_FILE = Path(__file__).with_name("world.json")
NETWORKS = ("in", "out")


@dataclass(frozen=True)
class Amounts:
    ind: int | None = None
    fam: int | None = None


@dataclass(frozen=True)
class Tier:
    """What a plan pays in one network tier for one benefit category (cents; a fraction)."""

    covered: bool = True
    copay: int | None = None
    copay_period: str = "27"  # EB06: 27 per visit; some payers send 23 (calendar year)
    coinsurance: Decimal | None = None
    deductible: Amounts = Amounts()
    out_of_pocket: Amounts = Amounts()
    visit_limit: int | None = None
    prior_auth: bool | None = None


@dataclass(frozen=True)
class CarveOut:
    code: str
    name: str
    qualifier: str
    identifier: str
    phone: str | None = None


@dataclass(frozen=True)
class Plan:
    id: str
    payer: str
    name: str
    insurance_type: str
    group: str
    general: dict[str, Tier]  # network ("in"/"out") -> tier, the service type 30 lines
    mental_health: dict[str, Tier] | None  # None: the payer says nothing specific for MH
    carve_out: CarveOut | None = None
    year_start: tuple[int, int] = (1, 1)  # month, day
    # EB01 of the plan's coverage lines: 1 active, 2-5 capitated or pending investigation;
    # "" sends none, so the answer says nothing about coverage (read as unknown).
    coverage_code: str = "1"

    def year(self, day: date) -> tuple[date, date]:
        """The plan year containing `day`: [begin, end]."""
        month, dom = self.year_start
        begin = date(day.year, month, dom)
        if begin > day:
            begin = date(day.year - 1, month, dom)
        following = date(begin.year + 1, month, dom)
        return begin, date.fromordinal(following.toordinal() - 1)

    @property
    def calendar_year(self) -> bool:
        return self.year_start == (1, 1)


@dataclass(frozen=True)
class Person:
    key: str  # member id, or "<subscriber id>-NN" for a dependant without their own
    first: str
    last: str
    dob: date
    gender: str | None = None  # F or M; None: not on file
    relationship: str | None = None  # INS02 for a dependant (19 child, 01 spouse)


@dataclass(frozen=True)
class Member:
    """A subscriber: the person holding the member id, with their dependants."""

    person: Person
    payer: str
    plan: str
    start: date
    end: date | None = None
    coverage: str = "IND"  # IND or FAM
    dependants: tuple[Person, ...] = ()

    @property
    def member_id(self) -> str:
        return self.person.key

    def active_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def family_keys(self) -> tuple[str, ...]:
        return (self.person.key, *(d.key for d in self.dependants))


@dataclass(frozen=True)
class Claim:
    """What one adjudicated service used of a person's accumulators."""

    person: str
    day: date
    network: str = "in"
    deductible: int = 0
    out_of_pocket: int = 0
    visits: int = 0
    claim_number: str = ""  # the payer claim number that recorded it ("" for world.json's)


@dataclass(frozen=True)
class Credential:
    """A rendering provider credentialed with a payer from `start` to `end` (inclusive)."""

    npi: str
    start: date
    end: date | None = None
    cpts: tuple[str, ...] | None = None  # None: any code on the fee schedule

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Payer:
    id: str
    name: str
    filing_limit_days: int = 365
    billing_npis: tuple[str, ...] = ()
    fee_schedule: dict[str, int] = field(default_factory=dict)  # CPT -> allowed cents
    credentialed: tuple[Credential, ...] = ()
    # What its 835s say about it: TRN03 is "1" + EIN; N3/N4 (street, city, state, ZIP);
    # PER*BL's phone; BPR06-09 (routing, account); prompt pay: L6 interest at interest_rate a
    # year on a claim paid more than prompt_pay_days after it was received.
    ein: str = ""
    address: tuple[str, str, str, str] = ("", "", "", "")
    phone: str = ""
    bank: tuple[str, str] = ("", "")
    prompt_pay_days: int = 30
    interest_rate: Decimal = Decimal(0)

    def credentials(self, npi: str) -> list[Credential]:
        return [credential for credential in self.credentialed if credential.npi == npi]


@dataclass(frozen=True)
class PriorAuth:
    number: str
    payer: str
    person: str
    cpts: tuple[str, ...]
    visits: int
    start: date
    end: date


@dataclass(frozen=True)
class Used:
    """Year-to-date use as of a date, for one person and their family."""

    deductible: int
    out_of_pocket: int
    visits: int
    family_deductible: int
    family_out_of_pocket: int


@dataclass
class World:
    payers: dict[str, str]  # payer id -> name
    plans: dict[str, Plan]
    members: dict[str, Member]
    claims: list[Claim] = field(default_factory=list)
    payer_rules: dict[str, Payer] = field(default_factory=dict)
    prior_auths: dict[str, PriorAuth] = field(default_factory=dict)
    payee_bank: tuple[str, str] = ("", "")  # the platform's account (routing, account)

    def record_claim(self, claim: Claim) -> None:
        self.claims.append(claim)

    def forget_claim(self, claim_number: str) -> None:
        """Take out what a voided or replaced claim had added to the accumulators."""
        self.claims = [claim for claim in self.claims if claim.claim_number != claim_number]

    def person(
        self, member_id: str, patient: tuple[str, str] | None
    ) -> tuple[Member, Person] | None:
        """The member and the person treated: the subscriber, or a dependant named in 2010CA."""
        member = self.members.get(member_id)
        if member is None:
            return None
        if patient is None:
            return member, member.person
        for dependant in member.dependants:
            if (dependant.first.casefold(), dependant.last.casefold()) == (
                patient[0].casefold(),
                patient[1].casefold(),
            ):
                return member, dependant
        return None

    def used(self, member: Member, person: Person, network: str, day: date) -> Used:
        begin, _ = self.plans[member.plan].year(day)
        family = set(member.family_keys())
        fam_ded = fam_oop = 0
        ded = oop = visits = 0
        for claim in self.claims:
            if claim.network != network or not begin <= claim.day <= day:
                continue
            if claim.person in family:
                fam_ded += claim.deductible
                fam_oop += claim.out_of_pocket
            if claim.person == person.key:
                ded += claim.deductible
                oop += claim.out_of_pocket
                visits += claim.visits
        return Used(ded, oop, visits, fam_ded, fam_oop)


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _tier(raw: dict[str, Any]) -> Tier:
    coins = raw.get("coinsurance")
    return Tier(
        covered=raw.get("covered", True),
        copay=raw.get("copay"),
        copay_period=raw.get("copay_period", "27"),
        coinsurance=None if coins is None else Decimal(coins),
        deductible=Amounts(**raw.get("deductible", {})),
        out_of_pocket=Amounts(**raw.get("out_of_pocket", {})),
        visit_limit=raw.get("visit_limit"),
        prior_auth=raw.get("prior_auth"),
    )


def _tiers(raw: dict[str, Any]) -> dict[str, Tier]:
    return {net: _tier(raw[net]) for net in NETWORKS if net in raw}


def _plan(plan_id: str, raw: dict[str, Any]) -> Plan:
    general = _tiers(raw.get("general", {}))
    mh_raw = raw.get("mental_health")
    mental_health = general if mh_raw == "same" else None if mh_raw is None else _tiers(mh_raw)
    carve = raw.get("carve_out")
    month, dom = (int(part) for part in raw.get("plan_year_start", "01-01").split("-"))
    return Plan(
        id=plan_id,
        payer=raw["payer"],
        name=raw["name"],
        insurance_type=raw.get("insurance_type", ""),
        group=raw.get("group", ""),
        general=general,
        mental_health=mental_health,
        carve_out=None if carve is None else CarveOut(**carve),
        year_start=(month, dom),
        coverage_code=raw.get("coverage_code", "1"),
    )


def _member(raw: dict[str, Any]) -> tuple[Member, str]:
    person = Person(raw["member_id"], raw["first"], raw["last"], _day(raw["dob"]),
                    raw.get("gender"))  # fmt: skip
    dependants = tuple(
        Person(
            d["key"],
            d["first"],
            d["last"],
            _day(d["dob"]),
            d.get("gender"),
            d.get("relationship", "19"),
        )
        for d in raw.get("dependants", [])
    )
    end = raw.get("end")
    member = Member(
        person=person, payer="", plan=raw["plan"], start=_day(raw["start"]),
        end=None if end is None else _day(end), coverage=raw.get("coverage", "IND"),
        dependants=dependants,
    )  # fmt: skip
    return member, raw["plan"]


def load_world(path: Path = WORLD_FILE) -> World:
    raw = json.loads(path.read_text())
    plans = {plan_id: _plan(plan_id, body) for plan_id, body in raw["plans"].items()}
    members: dict[str, Member] = {}
    for entry in raw["members"]:
        member, plan_id = _member(entry)
        members[member.member_id] = Member(**{**member.__dict__, "payer": plans[plan_id].payer})
    claims = [
        Claim(
            person=entry["person"],
            day=_day(day),
            network=entry.get("network", "in"),
            deductible=entry.get("deductible", 0),
            out_of_pocket=entry.get("out_of_pocket", 0),
            visits=entry.get("visits", 0),
        )
        for entry in raw["claims"]
        for day in entry["dates"]
    ]
    payers = {payer_id: body["name"] for payer_id, body in raw["payers"].items()}
    rules = {payer_id: _payer(payer_id, body) for payer_id, body in raw["payers"].items()}
    auths = {
        entry["number"]: PriorAuth(
            number=entry["number"],
            payer=entry["payer"],
            person=entry["person"],
            cpts=tuple(entry["cpts"]),
            visits=entry["visits"],
            start=_day(entry["start"]),
            end=_day(entry["end"]),
        )
        for entry in raw.get("prior_auths", [])
    }
    routing, account = raw.get("payee_bank", ["", ""])
    return World(payers=payers, plans=plans, members=members, claims=claims, payer_rules=rules,
                 prior_auths=auths, payee_bank=(routing, account))  # fmt: skip


def _payer(payer_id: str, raw: dict[str, Any]) -> Payer:
    credentials = tuple(
        Credential(
            npi=entry["npi"],
            start=_day(entry["start"]),
            end=_day(entry["end"]) if "end" in entry else None,
            cpts=tuple(entry["cpts"]) if "cpts" in entry else None,
        )
        for entry in raw.get("credentialed", [])
    )
    return Payer(
        id=payer_id, name=raw["name"], filing_limit_days=raw.get("filing_limit_days", 365),
        billing_npis=tuple(raw.get("billing_npis", [])),
        fee_schedule=dict(raw.get("fee_schedule", {})), credentialed=credentials,
        ein=raw.get("ein", ""), address=tuple(raw.get("address", ["", "", "", ""])),
        phone=raw.get("phone", ""), bank=tuple(raw.get("bank", ["", ""])),
        prompt_pay_days=raw.get("prompt_pay_days", 30),
        interest_rate=Decimal(raw.get("interest_rate", "0")),
    )  # fmt: skip
