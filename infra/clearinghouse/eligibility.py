"""A payer answering a 270 from its world: who is asked about, as of which date, which lines.

Service types: an MH inquiry gets the plan's MH lines; a plan that says nothing specific for
MH answers with its service type 30 lines; a carve-out answers EB*U for MH with the other
payer in loop 2120. A 30 inquiry gets the 30 lines plus the MH lines (as CORE asks of a 30
answer); any other service type is answered like 30. Every active answer starts with an
`EB*1**30` plan line naming the plan (its EB01 is the plan's coverage code: 2-5 for a capitated
or pending plan; a plan with none sends no coverage line at all, only its figures). A copay goes
with the tier's EB06 period: 27 per visit, or another such as 23 as some payers send it.
"""

from __future__ import annotations

from datetime import date

from infra.clearinghouse.world import Member, Person, Plan, Tier, World
from infra.clearinghouse.x12 import (
    Benefit,
    Entity,
    Inquiry270,
    Person270,
    Person271,
    Rejection,
    Response271,
)

NETWORK_CODES = {"in": "Y", "out": "N"}
# Reject reasons (AAA03) with the follow-up (AAA04) this payer gives them.
SUBSCRIBER_NOT_FOUND = Rejection("75", "C")
PATIENT_NOT_FOUND = Rejection("67", "C")
BIRTH_DATE_MISMATCH = Rejection("71", "C")
MISSING_BIRTH_DATE = Rejection("58", "C")
NAME_MISMATCH = Rejection("73", "C")
UNKNOWN_PAYER = Rejection("79", "C")
BAD_PROVIDER_ID = Rejection("43", "C")
UNABLE_TO_RESPOND = Rejection("42", "R", "Y")


def npi_valid(npi: str) -> bool:
    """Luhn over the prefix 80840 and the first nine digits."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed("80840" + npi[:9])):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10 == int(npi[9])


def _echo(person: Person270) -> Person271:
    return Person271(person.last, person.first, person.member_id, person.dob, person.gender,
                     person.relationship)  # fmt: skip


def _from_world(person: Person, member_id: str | None) -> Person271:
    return Person271(person.last, person.first, member_id, person.dob, person.gender,
                     person.relationship)  # fmt: skip


def _categories(plan: Plan, asked: list[str]) -> list[str]:
    wanted: list[str] = []
    for code in asked or ["30"]:
        if code == "MH":
            # A carve-out: who to ask instead, and no figures from the general lines.
            if plan.carve_out is not None:
                wanted.append("carve")
            else:
                wanted.append("MH" if plan.mental_health is not None else "30")
        else:
            wanted += ["30", "MH"] if plan.mental_health is not None else ["30"]
            if plan.carve_out is not None:
                wanted.append("carve")
    order = ["30", "MH", "carve"]
    return [c for c in order if c in wanted]


def _tier_lines(
    world: World, member: Member, person: Person, tier: Tier, network: str, service: str,
    day: date, with_active: bool,
) -> list[Benefit]:  # fmt: skip
    net = NETWORK_CODES[network]
    svc = (service,)
    auth = "" if tier.prior_auth is None else "Y" if tier.prior_auth else "N"
    if not tier.covered:
        return [Benefit("I", svc, network=net)]
    plan = world.plans[member.plan]
    period = "23" if plan.calendar_year else "22"
    used = world.used(member, person, network, day)
    coverage = plan.coverage_code
    lines = [Benefit(coverage, svc, auth=auth, network=net)] if with_active and coverage else []
    if tier.copay is not None:
        lines.append(Benefit("B", svc, "IND", period=tier.copay_period, amount_cents=tier.copay,
                             auth=auth, network=net))  # fmt: skip
    if tier.coinsurance is not None:
        lines.append(Benefit("A", svc, "IND", percent=tier.coinsurance, auth=auth, network=net))
    family = member.coverage == "FAM"
    for code, amounts, ind_used, fam_used in (
        ("C", tier.deductible, used.deductible, used.family_deductible),
        ("G", tier.out_of_pocket, used.out_of_pocket, used.family_out_of_pocket),
    ):
        for level, total, spent in (("IND", amounts.ind, ind_used), ("FAM", amounts.fam, fam_used)):
            if total is None or (level == "FAM" and not family):
                continue
            lines.append(Benefit(code, svc, level, period=period, amount_cents=total, network=net))
            lines.append(Benefit(code, svc, level, period="29", amount_cents=max(0, total - spent),
                                 network=net))  # fmt: skip
    if tier.visit_limit is not None:
        remaining = max(0, tier.visit_limit - used.visits)
        lines.append(Benefit("F", svc, "IND", network=net,
                             quantities=(("VS", tier.visit_limit, period),)))  # fmt: skip
        lines.append(Benefit("F", svc, "IND", network=net, quantities=(("VS", remaining, "29"),)))
    return lines


def benefits_for(
    world: World, member: Member, person: Person, asked: list[str], day: date
) -> list[Benefit]:
    plan = world.plans[member.plan]
    if not member.active_on(day):
        return [Benefit("6", ("30",))]
    lines = []
    if plan.coverage_code:
        lines.append(Benefit(plan.coverage_code, ("30",), insurance_type=plan.insurance_type,
                             description=plan.name))  # fmt: skip
    for category in _categories(plan, asked):
        if category == "carve" and plan.carve_out is not None:
            c = plan.carve_out
            entity = Entity(c.code, c.name, c.qualifier, c.identifier, c.phone)
            lines.append(Benefit("U", ("MH",), entity=entity))
            continue
        tiers = plan.general if category == "30" else plan.mental_health or {}
        for network, tier in tiers.items():
            lines += _tier_lines(world, member, person, tier, network, category, day,
                                 with_active=category == "MH")  # fmt: skip
    return lines


def _dates(world: World, member: Member, day: date) -> list[tuple[str, date]]:
    if not member.active_on(day):
        dates = [("356", member.start)]
        return dates + ([("357", member.end)] if member.end is not None else [])
    begin, end = world.plans[member.plan].year(day)
    return [("346", begin), ("347", end), ("356", member.start)]


def _check_person(asked: Person270, known: Person, dob_required: bool) -> Rejection | None:
    if asked.dob is None:
        return MISSING_BIRTH_DATE if dob_required else None
    if asked.dob != known.dob:
        return BIRTH_DATE_MISMATCH
    if asked.last and asked.last.casefold() != known.last.casefold():
        return NAME_MISMATCH
    return None


def _find_dependant(member: Member, asked: Person270) -> Person | None:
    for dependant in member.dependants:
        if (dependant.first.casefold(), dependant.last.casefold()) == (
            asked.first.casefold(),
            asked.last.casefold(),
        ):
            return dependant
    return None


def answer(world: World, inquiry: Inquiry270, today: date, unable: bool = False) -> Response271:
    """The 271 for one 270: rejections in the loop they concern, else the benefits."""
    payer_name = world.payers.get(inquiry.payer_id, inquiry.payer_name)
    asker = inquiry.dependant or inquiry.subscriber
    trace_loop = inquiry.dependant.traces if inquiry.dependant else inquiry.subscriber.traces
    response = Response271(
        payer_name=payer_name, payer_id=inquiry.payer_id,
        provider_entity=inquiry.provider_entity, provider_last=inquiry.provider_last,
        provider_first=inquiry.provider_first, provider_qualifier=inquiry.provider_qualifier,
        provider_id=inquiry.provider_id, subscriber=_echo(inquiry.subscriber),
        traces=trace_loop or inquiry.subscriber.traces,
        dependant=None if inquiry.dependant is None else _echo(inquiry.dependant),
    )  # fmt: skip
    if unable:
        response.payer_rejections.append(UNABLE_TO_RESPOND)
        return response
    if inquiry.payer_id not in world.payers:
        response.payer_rejections.append(UNKNOWN_PAYER)
        return response
    if inquiry.provider_qualifier != "XX" or not npi_valid(inquiry.provider_id):
        response.provider_rejections.append(BAD_PROVIDER_ID)
        return response
    member = world.members.get(inquiry.subscriber.member_id or "")
    if member is None or member.payer != inquiry.payer_id:
        response.subscriber.rejections.append(SUBSCRIBER_NOT_FOUND)
        return response
    problem = _check_person(inquiry.subscriber, member.person, inquiry.dependant is None)
    if problem is not None:
        response.subscriber.rejections.append(problem)
        return response
    day = asker.service_date or today
    plan = world.plans[member.plan]
    subscriber = _from_world(member.person, member.member_id)
    subscriber.references.append(("6P", plan.group))
    response.subscriber = subscriber
    if inquiry.dependant is None:
        subscriber.dates = _dates(world, member, day)
        subscriber.benefits = benefits_for(world, member, member.person, asker.service_types, day)
        return response
    assert response.dependant is not None
    dependant = _find_dependant(member, inquiry.dependant)
    if dependant is None:
        response.dependant.rejections.append(PATIENT_NOT_FOUND)
        return response
    problem = _check_person(inquiry.dependant, dependant, True)
    if problem is not None:
        response.dependant.rejections.append(problem)
        return response
    found = _from_world(dependant, None)
    found.dates = _dates(world, member, day)
    found.benefits = benefits_for(world, member, dependant, asker.service_types, day)
    response.dependant = found
    return response
