"""`bench claims_837`: the 837P writer on 10,000 claims of mixed shapes, beside a baseline.

The claims (office, telehealth with modifier 95, two lines with the 90785 add-on, prior
authorization, dependant in 2000C, replacement and void) go to three payers, in interchanges of
at most 500 claims each, as the submission job sends them. The baseline writes the same
interchanges by the simplest correct method: each segment "*".join-ed and "~"-terminated by hand,
no checks, no core helpers. Both are measured in the same run, alternately, and the bench first
asserts that both wrote the same files. HEARTH_BENCH_CLAIMS changes the claim count (the test
runs a few hundred).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from schemas.x837 import (
    Batch,
    BillingProvider,
    Claim,
    Contact,
    Line,
    Patient,
    Payer,
    PostalAddress,
    Receiver,
    RenderingProvider,
    ServiceFacility,
    Submitter,
    Subscriber,
)
from services.claims.x837 import envelope_837, group_claims, split_by_payer, write_837
from services.core.identifiers import npi_check_digit
from services.core.x12 import ControlNumbers

BASELINE = "join_concat"
NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
ENVELOPE = envelope_837("HEARTH", "HEARTHCH")
DESK = Contact(name="Billing Desk", phone="5035550100")
BILLING = BillingProvider(
    name="Hearth Health", npi="2123456784", ein="990000001", taxonomy="193200000X", contact=DESK,
    address=PostalAddress(line1="100 Main St", line2="Floor 4", city="Portland", state="OR",
                          zip="972041234"),
)  # fmt: skip
SUBMITTER = Submitter(name="Hearth Health", id="HEARTH", contact=DESK)
RECEIVER = Receiver(name="Hearth Clearinghouse", id="HEARTHCH")
PAYERS = (
    Payer(name="Evergreen Health Plan", payer_id="EVGRN", filing_indicator="CI"),
    Payer(name="Blue Harbor Insurance", payer_id="BLHBR", filing_indicator="BL"),
    Payer(name="Cascade Care HMO", payer_id="CSCDH", filing_indicator="HM"),
)
SHAPES = ("office", "telehealth", "two_lines", "prior_auth", "dependant", "replacement", "void")


def _npi(n: int) -> str:
    body = f"1{n:08d}"
    return body + str(npi_check_digit(body))


def _claim(n: int) -> Claim:
    """Claim number n, its shape and people chosen by n (every 7th claim is each shape)."""
    shape = SHAPES[n % len(SHAPES)]
    home = PostalAddress(line1=f"{n} Elm St", city="Portland", state="OR", zip="972141020")
    subscriber = Subscriber(
        member_id=f"M{n // 3:08d}", group_number="GRP77", first_name="Jordan",
        last_name=f"Lee{n // 3}", birth_date=date(1960, 1, 1) + timedelta(days=n % 15000),
        sex="F", address=home,
    )  # fmt: skip
    patient = None
    if shape == "dependant":
        subscriber = Subscriber(member_id=subscriber.member_id, first_name="Pat",
                                last_name=subscriber.last_name)  # fmt: skip
        patient = Patient(relationship="child", first_name="Alex", last_name=subscriber.last_name,
                          birth_date=date(2012, 3, 1), sex="M", address=home)  # fmt: skip
    day = date(2026, 11, 2) + timedelta(days=n % 28)
    modifiers = ("95",) if shape in ("telehealth", "dependant") else ()
    lines = [Line(cpt="90837", modifiers=modifiers, charge_cents=15000, pointers=(1, 2),
                  service_date=day, control_number=f"L{n:07d}A1")]  # fmt: skip
    if shape == "two_lines":
        lines.append(Line(cpt="90785", charge_cents=2550, pointers=(1,), service_date=day,
                          control_number=f"L{n:07d}A2"))  # fmt: skip
    office = shape not in ("telehealth", "dependant")
    facility = ServiceFacility(
        name=f"Counseling {n % 97}",
        address=PostalAddress(line1="200 Oak Ave", line2="Suite 3", city="Portland", state="OR",
                              zip="972051111"),
    )  # fmt: skip
    return Claim(
        control_number=f"HC{n:07d}{'ABC'[SHAPES.index(shape) % 3]}",
        charge_cents=sum(line.charge_cents for line in lines),
        place_of_service="11" if office else "10",
        frequency="7" if shape == "replacement" else "8" if shape == "void" else "1",
        payer_claim_number=f"PCN{n:010d}" if shape in ("replacement", "void") else None,
        prior_authorization=f"PA{n:06d}" if shape == "prior_auth" else None,
        diagnoses=("F411", "F329"),
        payer=PAYERS[n % len(PAYERS)],
        subscriber=subscriber,
        patient=patient,
        rendering=RenderingProvider(npi=_npi(n % 50), first_name="Maya",
                                    last_name=f"Okafor{n % 50}", taxonomy="101YM0800X"),
        facility=facility if office else None,
        lines=tuple(lines),
    )  # fmt: skip


def batches(claims: int) -> list[tuple[Batch, ControlNumbers]]:
    """The claims by payer, in interchanges of at most 500, with their control numbers."""
    chunks = split_by_payer(_claim(n) for n in range(claims))
    return [
        (
            Batch(submitter=SUBMITTER, receiver=RECEIVER, billing=BILLING, claims=chunk),
            ControlNumbers(interchange=number, group=number),
        )
        for number, chunk in enumerate(chunks, start=1)
    ]


def write_all(work: list[tuple[Batch, ControlNumbers]]) -> list[str]:
    return [write_837(b, envelope=ENVELOPE, control=c, now=NOW) for b, c in work]


def baseline_all(work: list[tuple[Batch, ControlNumbers]]) -> list[str]:
    return [baseline_837(b, c) for b, c in work]


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _seg(*elements: str) -> str:
    return "*".join(elements) + "~"


def _addr(a: PostalAddress) -> str:
    n3 = _seg("N3", a.line1, a.line2) if a.line2 else _seg("N3", a.line1)
    return n3 + _seg("N4", a.city, a.state, a.zip)


def baseline_837(batch: Batch, control: ControlNumbers) -> str:
    """The same interchange written by hand: no checks, no core code; the writer's grouping."""
    isa13, gs06 = f"{control.interchange:09d}", str(control.group)
    day, hhmm = NOW.strftime("%Y%m%d"), NOW.strftime("%H%M")
    b, s, r = batch.billing, batch.submitter, batch.receiver
    body = [
        _seg("BHT", "0019", "00", isa13, day, hhmm, "CH"),
        _seg("NM1", "41", "2", s.name, "", "", "", "", "46", s.id),
        _seg("PER", "IC", s.contact.name, "TE", s.contact.phone),
        _seg("NM1", "40", "2", r.name, "", "", "", "", "46", r.id),
        _seg("HL", "1", "", "20", "1"),
        _seg("PRV", "BI", "PXC", b.taxonomy),
        _seg("NM1", "85", "2", b.name, "", "", "", "", "XX", b.npi),
        _addr(b.address),
        _seg("REF", "EI", b.ein),
        _seg("PER", "IC", b.contact.name, "TE", b.contact.phone),
    ]
    hl = 1
    for (sub, pat), claims in group_claims(batch).items():
        hl += 1
        payer = claims[0].payer
        if pat is None:
            assert sub.address is not None
            assert sub.birth_date is not None
            body.append(_seg("HL", str(hl), "1", "22", "0"))
            body.append(_seg("SBR", "P", "18", sub.group_number or "", "", "", "", "", "",
                             payer.filing_indicator))  # fmt: skip
            body.append(_seg("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI",
                             sub.member_id))  # fmt: skip
            body.append(_addr(sub.address))
            body.append(_seg("DMG", "D8", sub.birth_date.strftime("%Y%m%d"), sub.sex or "U"))
            body.append(_seg("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id))
        else:
            hl += 1
            body.append(_seg("HL", str(hl - 1), "1", "22", "1"))
            body.append(_seg("SBR", "P", "", sub.group_number or "", "", "", "", "", "",
                             payer.filing_indicator))  # fmt: skip
            body.append(_seg("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI",
                             sub.member_id))  # fmt: skip
            body.append(_seg("NM1", "PR", "2", payer.name, "", "", "", "", "PI", payer.payer_id))
            body.append(_seg("HL", str(hl), str(hl - 1), "23", "0"))
            body.append(
                _seg("PAT", {"spouse": "01", "child": "19", "other": "G8"}[pat.relationship])
            )
            body.append(_seg("NM1", "QC", "1", pat.last_name, pat.first_name))
            body.append(_addr(pat.address))
            body.append(_seg("DMG", "D8", pat.birth_date.strftime("%Y%m%d"), pat.sex))
        body.extend(_baseline_claim(claim) for claim in claims)
    text = "".join(body)
    count = text.count("~") + 2
    return (
        "ISA*00*          *00*          *ZZ*" + "HEARTH".ljust(15) + "*ZZ*" + "HEARTHCH".ljust(15)
        + "*" + day[2:] + "*" + hhmm + "*^*00501*" + isa13 + "*0*P*:~"
        + _seg("GS", "HC", "HEARTH", "HEARTHCH", day, hhmm, gs06, "X", "005010X222A1")
        + _seg("ST", "837", "0001", "005010X222A1") + text + _seg("SE", str(count), "0001")
        + _seg("GE", "1", gs06) + _seg("IEA", "1", isa13)
    )  # fmt: skip


def _baseline_claim(c: Claim) -> str:
    out = _seg("CLM", c.control_number, _dollars(c.charge_cents), "", "",
               f"{c.place_of_service}:B:{c.frequency}", "Y", "A", "Y", "Y")  # fmt: skip
    if c.prior_authorization:
        out += _seg("REF", "G1", c.prior_authorization)
    if c.payer_claim_number:
        out += _seg("REF", "F8", c.payer_claim_number)
    out += _seg("HI", "ABK:" + c.diagnoses[0], *("ABF:" + d for d in c.diagnoses[1:]))
    rp = c.rendering
    out += _seg("NM1", "82", "1", rp.last_name, rp.first_name, "", "", "", "XX", rp.npi)
    out += _seg("PRV", "PE", "PXC", rp.taxonomy)
    if c.facility:
        out += _seg("NM1", "77", "2", c.facility.name) + _addr(c.facility.address)
    for n, line in enumerate(c.lines, start=1):
        out += (
            _seg("LX", str(n))
            + _seg("SV1", ":".join(("HC", line.cpt, *line.modifiers)),
                   _dollars(line.charge_cents), "UN", str(line.units), "", "",
                   ":".join(str(p) for p in line.pointers))
            + _seg("DTP", "472", "D8", line.service_date.strftime("%Y%m%d"))
            + _seg("REF", "6R", line.control_number)
        )  # fmt: skip
    return out


def _rounds(seconds: float) -> Iterator[int]:
    """Round numbers until `seconds` have passed; at least one round."""
    began, n = time.perf_counter(), 0
    while n == 0 or time.perf_counter() - began < seconds:
        yield n
        n += 1


def _timed(write: Callable[[list[tuple[Batch, ControlNumbers]]], list[str]],
           work: list[tuple[Batch, ControlNumbers]]) -> float:  # fmt: skip
    began = time.perf_counter()
    write(work)
    return time.perf_counter() - began


def main() -> None:
    seconds = float(os.environ.get("HEARTH_BENCH_SECONDS", "1")) * 3
    claims = int(os.environ.get("HEARTH_BENCH_CLAIMS", "10000"))
    work = batches(claims)
    if write_all(work) != baseline_all(work):
        raise SystemExit("the baseline and the writer wrote different files")
    writer_time = baseline_time = 0.0
    rounds = 0
    for _ in _rounds(seconds):
        writer_time += _timed(write_all, work)
        baseline_time += _timed(baseline_all, work)
        rounds += 1
    writer_rate = claims * rounds / writer_time
    baseline_rate = claims * rounds / baseline_time
    print(
        f"bench claims_837 claims_per_s={writer_rate:.0f} claims={claims} "
        f"interchanges={len(work)} baseline={BASELINE} ratio={writer_rate / baseline_rate:.3f}"
    )
    print(f"bench claims_837_baseline name={BASELINE} claims_per_s={baseline_rate:.0f}")


if __name__ == "__main__":
    main()
