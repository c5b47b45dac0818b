"""The 837P we write: golden files, valid 005010X222A1 (pyx12), exact counts, our own refusals.

pyx12 passes a CLM02 that does not add up, a frequency of 6 and a 25-character CLM01; the
writer refuses them, and the last tests show both halves of that. The platform's identity
(billing provider, submitter, receiver) is the bench's, so the bench writes what is tested here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas.x837 import (
    Batch,
    BillingProvider,
    Claim,
    Line,
    Patient,
    Payer,
    PostalAddress,
    RenderingProvider,
    ServiceFacility,
    Subscriber,
)
from services.bench.claims_837 import BILLING, RECEIVER, SUBMITTER
from services.claims.x837 import dollars, envelope_837, split_by_payer, write_837
from services.core.x12 import ControlNumbers, X12Error, read_interchange
from tests.x12tools import x12valid_errors

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
ENVELOPE = envelope_837("HEARTH", "HEARTHCH")
DOS = date(2026, 12, 1)
FIRST = ControlNumbers(1, 1)

HOME = PostalAddress(line1="12 Elm St", city="Portland", state="OR", zip="972141020")
EVERGREEN = Payer(name="Evergreen Health Plan", payer_id="EVGRN", filing_indicator="CI")
HARBOR = Payer(name="Blue Harbor Insurance", payer_id="BLHBR", filing_indicator="BL")
JORDAN = Subscriber(
    member_id="EVG100001", group_number="GRP77", first_name="Jordan", last_name="Lee",
    birth_date=date(1990, 4, 12), sex="F", address=HOME,
)  # fmt: skip
PAT = Subscriber(member_id="BHI200001", first_name="Pat", last_name="Kim")
ALEX = Patient(
    relationship="child", first_name="Alex", last_name="Kim", birth_date=date(2010, 8, 19),
    sex="M", address=HOME,
)  # fmt: skip
OKAFOR = RenderingProvider(
    npi="1234567893", first_name="Maya", last_name="Okafor", taxonomy="101YM0800X"
)
OFFICE = ServiceFacility(
    name="Okafor Counseling",
    address=PostalAddress(line1="200 Oak Ave", line2="Suite 3", city="Portland", state="OR",
                          zip="972051111"),
)  # fmt: skip


def line(cpt: str, cents: int, control: str, *, modifiers: tuple[str, ...] = ()) -> Line:
    return Line(
        cpt=cpt, modifiers=modifiers, charge_cents=cents, pointers=(1,), service_date=DOS,
        control_number=control,
    )  # fmt: skip


def office_claim(**changes: Any) -> Claim:
    """Subscriber is the patient, in office (POS 11, 2310C), one 90837 line."""
    claim = Claim(
        control_number="HC1001A", charge_cents=15000, place_of_service="11",
        diagnoses=("F411",), payer=EVERGREEN, subscriber=JORDAN, rendering=OKAFOR,
        facility=OFFICE, lines=(line("90837", 15000, "HL1001A1"),),
    )  # fmt: skip
    return msgspec.structs.replace(claim, **changes)


def batch(*claims: Claim, billing: BillingProvider = BILLING) -> Batch:
    return Batch(submitter=SUBMITTER, receiver=RECEIVER, billing=billing, claims=claims)


def write(*claims: Claim, control: ControlNumbers = FIRST) -> str:
    return write_837(batch(*claims), envelope=ENVELOPE, control=control, now=NOW)


TELEHEALTH = office_claim(
    control_number="HC1002A", place_of_service="10", facility=None, charge_cents=12000,
    lines=(line("90834", 12000, "HL1002A1", modifiers=("95",)),),
)  # fmt: skip
TWO_LINES = office_claim(
    control_number="HC1003A", charge_cents=17500, diagnoses=("F411", "F331", "Z634"),
    lines=(
        msgspec.structs.replace(line("90837", 15000, "HL1003A1"), pointers=(1, 2, 3)),
        line("90785", 2500, "HL1003A2"),
    ),
)  # fmt: skip
PRIOR_AUTH = office_claim(control_number="HC1004A", prior_authorization="PA2026EVG0042")
DEPENDANT = office_claim(
    control_number="HC1005A", payer=HARBOR, subscriber=PAT, patient=ALEX, place_of_service="02",
    facility=OFFICE, lines=(line("90837", 15000, "HL1005A1", modifiers=("95",)),),
)  # fmt: skip
REPLACEMENT = office_claim(
    control_number="HC1001B", frequency="7", payer_claim_number="EVG2026120400017"
)
VOID = office_claim(control_number="HC1001C", frequency="8", payer_claim_number="EVG2026120400017")

SHAPES = {
    "837_subscriber_office.x12": (office_claim(),),
    "837_telehealth_home.x12": (TELEHEALTH,),
    "837_two_lines.x12": (TWO_LINES,),
    "837_prior_auth.x12": (PRIOR_AUTH,),
    "837_dependant.x12": (DEPENDANT,),
    "837_replacement.x12": (REPLACEMENT,),
    "837_void.x12": (VOID,),
    "837_several_claims.x12": (office_claim(), TELEHEALTH, TWO_LINES, PRIOR_AUTH),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_837_golden_valid_and_counted(name: str) -> None:
    claims = SHAPES[name]
    text = write(*claims, control=ControlNumbers(201, 21))
    assert text == (GOLDEN / name).read_text()
    assert x12valid_errors(text) == []
    interchange = read_interchange(text)  # strict: SE01, GE01 and IEA01 must be exact
    (transaction,) = interchange.transactions
    tags = [segment[0] for segment in transaction.segments]
    assert transaction.segments[-1] == ["SE", str(len(tags)), "0001"]
    assert tags.count("CLM") == len(claims)
    assert tags.count("LX") == sum(len(claim.lines) for claim in claims)
    assert interchange.isa[13] == "000000201"


def test_subscriber_is_the_patient_in_2000b_with_sbr02_18() -> None:
    text = write(office_claim())
    assert "HL*2*1*22*0~SBR*P*18*GRP77******CI~NM1*IL*1*Lee*Jordan****MI*EVG100001~" in text
    assert "N3*12 Elm St~N4*Portland*OR*972141020~DMG*D8*19900412*F~" in text
    assert "NM1*PR*2*Evergreen Health Plan*****PI*EVGRN~CLM*HC1001A*150.00***11:B:1*Y*A*Y*Y~" in (
        text
    )
    assert "HL*3" not in text
    assert "PAT*" not in text


def test_office_session_has_2310c_and_billing_provider_2010aa() -> None:
    text = write(office_claim())
    assert "BHT*0019*00*000000001*20261204*1530*CH~" in text
    assert "HL*1**20*1~PRV*BI*PXC*193200000X~NM1*85*2*Hearth Health*****XX*2123456784~" in text
    assert "N3*100 Main St*Floor 4~N4*Portland*OR*972041234~REF*EI*990000001~" in text
    assert "NM1*82*1*Okafor*Maya****XX*1234567893~PRV*PE*PXC*101YM0800X~" in text
    assert "NM1*77*2*Okafor Counseling~N3*200 Oak Ave*Suite 3~N4*Portland*OR*972051111~" in text


def test_dependant_without_member_id_goes_in_2000c() -> None:
    text = write(DEPENDANT)
    assert "HL*2*1*22*1~SBR*P********BL~NM1*IL*1*Kim*Pat****MI*BHI200001~NM1*PR*2*" in text
    assert "HL*3*2*23*0~PAT*19~NM1*QC*1*Kim*Alex~N3*12 Elm St~" in text
    assert "DMG*D8*20100819*M~CLM*HC1005A*150.00***02:B:1*Y*A*Y*Y~" in text


@pytest.mark.parametrize(("relationship", "pat01"), [("spouse", "01"), ("other", "G8")])
def test_dependant_relationship_codes(relationship: str, pat01: str) -> None:
    patient = msgspec.structs.replace(ALEX, relationship=relationship)
    text = write(msgspec.structs.replace(DEPENDANT, patient=patient))
    assert f"HL*3*2*23*0~PAT*{pat01}~" in text
    assert x12valid_errors(text) == []


def test_telehealth_line_carries_modifier_95_and_no_facility() -> None:
    text = write(TELEHEALTH)
    assert "CLM*HC1002A*120.00***10:B:1*Y*A*Y*Y~" in text
    assert "LX*1~SV1*HC:90834:95*120.00*UN*1***1~DTP*472*D8*20261201~REF*6R*HL1002A1~" in text
    assert "NM1*77" not in text


def test_two_lines_with_add_on_pointers_and_diagnoses_abk_then_abf() -> None:
    text = write(TWO_LINES)
    assert "CLM*HC1003A*175.00***11:B:1*Y*A*Y*Y~HI*ABK:F411*ABF:F331*ABF:Z634~" in text
    assert "LX*1~SV1*HC:90837*150.00*UN*1***1:2:3~" in text
    assert "LX*2~SV1*HC:90785*25.00*UN*1***1~DTP*472*D8*20261201~REF*6R*HL1003A2~" in text


def test_prior_auth_replacement_and_void_references() -> None:
    assert "~REF*G1*PA2026EVG0042~HI*" in write(PRIOR_AUTH)
    assert "CLM*HC1001B*150.00***11:B:7*Y*A*Y*Y~REF*F8*EVG2026120400017~" in write(REPLACEMENT)
    assert "CLM*HC1001C*150.00***11:B:8*Y*A*Y*Y~REF*F8*EVG2026120400017~" in write(VOID)
    both = msgspec.structs.replace(REPLACEMENT, prior_authorization="PA1")
    assert "~REF*G1*PA1~REF*F8*EVG2026120400017~" in write(both)
    assert x12valid_errors(write(both)) == []


def test_claims_of_one_subscriber_share_their_loops_in_first_seen_order() -> None:
    harbor_self = msgspec.structs.replace(TELEHEALTH, payer=HARBOR, control_number="HC2")
    text = write(msgspec.structs.replace(DEPENDANT, control_number="HC1"), harbor_self,
                 msgspec.structs.replace(DEPENDANT, control_number="HC3"))  # fmt: skip
    (transaction,) = read_interchange(text).transactions
    hls = [segment[1:] for segment in transaction.segments if segment[0] == "HL"]
    assert hls == [["1", "", "20", "1"], ["2", "1", "22", "1"], ["3", "2", "23", "0"],
                   ["4", "1", "22", "0"]]  # fmt: skip
    clms = [segment[1] for segment in transaction.segments if segment[0] == "CLM"]
    assert clms == ["HC1", "HC3", "HC2"]
    assert x12valid_errors(text) == []


def test_one_interchange_per_payer_with_increasing_control_numbers() -> None:
    by_payer = {
        "EVGRN": (office_claim(), TELEHEALTH, PRIOR_AUTH),
        "BLHBR": (DEPENDANT, msgspec.structs.replace(TWO_LINES, payer=HARBOR)),
    }
    files = [
        write(*claims, control=ControlNumbers(300 + n, 40 + n))
        for n, claims in enumerate(by_payer.values())
    ]
    for text, (payer_id, claims) in zip(files, by_payer.items(), strict=True):
        assert x12valid_errors(text) == []
        interchange = read_interchange(text)
        (transaction,) = interchange.transactions
        payers = {s[9] for s in transaction.segments if s[:2] == ["NM1", "PR"]}
        assert payers == {payer_id}
        assert sum(s[0] == "CLM" for s in transaction.segments) == len(claims)
    isa13 = [read_interchange(text).isa[13] for text in files]
    gs06 = [read_interchange(text).gs[0][6] for text in files]
    assert isa13 == ["000000300", "000000301"]
    assert gs06 == ["40", "41"]


def test_split_by_payer_in_files_of_at_most_max_claims() -> None:
    harbor = msgspec.structs.replace(TELEHEALTH, payer=HARBOR)
    claims = [office_claim(), harbor, TWO_LINES, harbor, PRIOR_AUTH, DEPENDANT]
    chunks = split_by_payer(claims, max_claims=2)
    assert chunks == [(office_claim(), TWO_LINES), (PRIOR_AUTH,), (harbor, harbor), (DEPENDANT,)]
    assert split_by_payer(claims) == [
        (office_claim(), TWO_LINES, PRIOR_AUTH),
        (harbor, harbor, DEPENDANT),
    ]
    assert split_by_payer([]) == []


def test_names_are_sent_without_accents() -> None:
    jose = msgspec.structs.replace(JORDAN, first_name="Jos\u00e9", last_name="Pe\u00f1a")
    text = write(office_claim(subscriber=jose))
    assert "NM1*IL*1*Pena*Jose****MI*EVG100001~" in text
    assert text.isascii()


@pytest.mark.parametrize(
    ("cents", "written"), [(1, "0.01"), (99, "0.99"), (100, "1.00"), (15000, "150.00"),
                           (123456789, "1234567.89")]
)  # fmt: skip
def test_dollars_have_exactly_two_cent_digits(cents: int, written: str) -> None:
    assert dollars(cents) == written


def _pointers(*pointers: int) -> dict[str, Any]:
    return {"lines": (msgspec.structs.replace(line("90837", 15000, "L1"), pointers=pointers),)}


def _zip5(address: PostalAddress) -> PostalAddress:
    return msgspec.structs.replace(address, zip="97204")


REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "clm02_mismatch": ({"charge_cents": 14999}, "CLM02 149.99 is not the sum of SV102 150.00"),
    "place_of_service_1_digit": ({"place_of_service": "2"}, "CLM05-1 place of service"),
    "frequency_6": ({"frequency": "6"}, "CLM05-3 frequency must be 1, 7 or 8"),
    "clm01_25_chars": ({"control_number": "HC" + "1" * 23}, "CLM01"),
    "clm01_lower_case": ({"control_number": "hc1001a"}, "CLM01"),
    "clm01_uuid": ({"control_number": "0f1e2d3c-4b5a-6978"}, "CLM01"),
    "replacement_without_f8": ({"frequency": "7"}, "frequency 7 needs REF*F8"),
    "void_without_f8": ({"frequency": "8"}, "frequency 8 needs REF*F8"),
    "no_diagnosis": ({"diagnoses": ()}, "HI needs 1 to 12 diagnoses"),
    "13_diagnoses": ({"diagnoses": ("F411",) * 13}, "HI needs 1 to 12 diagnoses"),
    "diagnosis_with_dot": ({"diagnoses": ("F41.1",)}, "not ICD-10-CM"),
    "diagnosis_too_long": ({"diagnoses": ("F4112345",)}, "not ICD-10-CM"),
    "diagnosis_digit_first": ({"diagnoses": ("4F11",)}, "not ICD-10-CM"),
    "pointer_past_diagnoses": (_pointers(2), "SV107 pointer 2 is outside 1..1"),
    "pointer_zero": (_pointers(0), "SV107 pointer 0 is outside 1..1"),
    "no_pointer": (_pointers(), "SV107 needs 1 to 4 diagnosis pointers"),
    "five_pointers": (_pointers(1, 1, 1, 1, 1), "SV107 needs 1 to 4 diagnosis pointers"),
    "rendering_npi_check_digit": (
        {"rendering": msgspec.structs.replace(OKAFOR, npi="1234567890")},
        "2310B rendering provider NPI",
    ),
    "rendering_taxonomy": (
        {"rendering": msgspec.structs.replace(OKAFOR, taxonomy="101YM0800")},
        "2310B rendering provider taxonomy",
    ),
    "facility_zip5": (
        {"facility": msgspec.structs.replace(OFFICE, address=_zip5(OFFICE.address))},
        "2310C service facility ZIP",
    ),
    "five_modifiers": (
        {"lines": (line("90837", 15000, "L1", modifiers=("95", "GT", "HJ", "AH", "U1")),)},
        "up to 4 modifiers",
    ),
    "subscriber_patient_without_birth_date": (
        {"subscriber": msgspec.structs.replace(JORDAN, birth_date=None)},
        "2010BA needs the subscriber's birth date",
    ),
    "no_lines": ({"lines": (), "charge_cents": 0}, "1 to 50 service lines"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_claim_refused_naming_the_field(case: str) -> None:
    changes, message = REFUSED[case]
    with pytest.raises(X12Error, match=message.replace("*", r"\*").replace(".", r"\.")):
        write(office_claim(**changes))


@pytest.mark.parametrize(
    ("billing", "message"),
    [
        (msgspec.structs.replace(BILLING, npi="2123456785"), "2010AA billing provider NPI"),
        (msgspec.structs.replace(BILLING, taxonomy="1932000000"), "2000A billing provider taxo"),
        (msgspec.structs.replace(BILLING, address=_zip5(BILLING.address)), "2010AA billing pro"),
        (msgspec.structs.replace(BILLING, ein="99000000"), "REF\\*EI: the EIN must be 9 digits"),
    ],
)
def test_billing_provider_refused_naming_the_field(billing: BillingProvider, message: str) -> None:
    with pytest.raises(X12Error, match=message):
        write_837(batch(office_claim(), billing=billing), envelope=ENVELOPE,
                  control=FIRST, now=NOW)  # fmt: skip


def test_one_interchange_carries_one_payer_and_at_least_one_claim() -> None:
    with pytest.raises(X12Error, match="one interchange carries one payer's claims"):
        write(office_claim(), DEPENDANT)
    with pytest.raises(X12Error, match="at least one claim"):
        write()


@pytest.mark.parametrize(
    ("valid", "wrong"),
    [
        ("CLM*HC1001A*150.00*", "CLM*HC1001A*149.99*"),  # CLM02 != ΣSV102
        ("11:B:1*", "11:B:6*"),  # frequency 6
        ("CLM*HC1001A*", "CLM*HC1001A234567890123456*"),  # 25 characters
    ],
)
def test_pyx12_passes_what_the_writer_refuses(valid: str, wrong: str) -> None:
    text = write(office_claim())
    assert valid in text
    assert x12valid_errors(text.replace(valid, wrong)) == []
