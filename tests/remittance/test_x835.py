"""The streaming 835 reader on hand-written files: what it reads, and that each file is valid."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from schemas.remittance import Remittance
from services.remittance.x835 import iter_835, read_835, stream
from tests.remittance.fixtures import (
    DENIED,
    DUPLICATE,
    EVERY_ELEMENT,
    LINE_DENIED,
    PAID,
    PARTLY_PAID,
    PLBS,
    REVERSAL_AND_CORRECTION,
    SIX_TRIPLETS,
    interchange,
    pad_isa,
    redelimit,
    transaction,
)
from tests.x12tools import x12valid_errors


def read_all(text: str | bytes) -> list[Remittance]:
    raw = text.encode() if isinstance(text, str) else text
    summary, remittances = read_835(io.BytesIO(raw))
    found = list(remittances)
    assert summary.transactions == len(found)
    return found


def test_a_paid_claim_with_every_element_the_posting_needs() -> None:
    text = interchange([transaction(PAID)])
    assert x12valid_errors(text) == []
    (remittance,) = read_all(text)
    assert remittance.handling == "I"
    assert remittance.amount_cents == 10000
    assert remittance.credit_debit == "C"
    assert (remittance.payment_method, remittance.payment_format) == ("ACH", "CCP")
    assert remittance.payment_date == date(2026, 12, 4)
    assert (remittance.trace_number, remittance.trace_originator) == ("EFT0001", "1512345678")
    assert remittance.production_date == date(2026, 12, 3)
    assert remittance.payer.name == "EVERGREEN HEALTH PLAN"
    assert [(r.qualifier, r.value) for r in remittance.payer.references] == [("2U", "EVGRN")]
    assert (remittance.payee.id_qualifier, remittance.payee.id) == ("XX", "2123456784")
    assert remittance.envelope.interchange_control == "000000101"
    assert remittance.envelope.group_control == "1011"
    assert remittance.control_number == "0001"
    assert remittance.segments == 23
    assert remittance.position == 3
    (claim,) = remittance.claims
    assert claim.patient_control_number == "HC0000001A"
    assert (claim.status, claim.charge_cents, claim.paid_cents) == ("1", 15000, 10000)
    assert claim.patient_responsibility_cents == 2000
    assert (claim.filing_indicator, claim.payer_claim_number) == ("12", "PCN0000000001")
    assert (claim.facility_code, claim.frequency) == ("11", "1")
    assert [(p.entity, p.name, p.id) for p in claim.people] == [("QC", "LEE", "M00000001")]
    assert [(d.qualifier, d.value) for d in claim.dates] == [("050", date(2026, 11, 20))]
    assert claim.position == 16
    (line,) = claim.lines
    assert (line.procedure.qualifier, line.procedure.code) == ("HC", "90837")
    assert (line.charge_cents, line.paid_cents, line.units_paid) == (15000, 10000, Decimal(1))
    assert line.control_number == "L0000001A1"
    assert [(d.qualifier, d.value) for d in line.dates] == [("472", date(2026, 11, 2))]
    assert [(a.group, a.reason, a.amount_cents) for a in line.adjustments] == [
        ("CO", "45", 3000),
        ("PR", "3", 2000),
    ]
    assert [(a.qualifier, a.amount_cents) for a in line.amounts] == [("B6", 12000)]
    assert claim.patient_adjustments_cents == 2000
    assert remittance.totals.payment_cents == 10000
    assert remittance.warnings == ()


def test_several_transactions_and_groups_in_one_file() -> None:
    first = transaction(PAID + PARTLY_PAID, paid="130", trace="EFT0001")
    second = transaction(LINE_DENIED, paid="100", trace="EFT0002")
    third = transaction(DENIED, paid="0", trace="EFT0003")
    text = interchange([first, second], [third])
    assert x12valid_errors(text) == []
    summary, remittances = read_835(io.BytesIO(text.encode()))
    assert (summary.interchanges, summary.groups, summary.transactions) == (1, 2, 3)
    assert summary.claims == 4
    assert summary.payment_cents == 23000
    found = list(remittances)
    assert [r.trace_number for r in found] == ["EFT0001", "EFT0002", "EFT0003"]
    assert [r.envelope.group_control for r in found] == ["1011", "1011", "1012"]
    assert [len(r.claims) for r in found] == [2, 1, 1]
    partly = found[0].claims[1]
    assert [
        (a.group, a.reason, a.amount_cents, a.quantity) for a in partly.lines[0].adjustments
    ] == [
        ("CO", "45", 3000, None),
        ("PR", "1", 8000, Decimal(1)),
        ("PR", "2", 1000, None),
    ]
    assert found[0].totals.paid_cents == 13000
    assert found[0].totals.charge_cents == 30000


def test_a_reversal_keeps_every_sign_and_its_correction_follows() -> None:
    text = interchange([transaction(REVERSAL_AND_CORRECTION, paid="10")])
    assert x12valid_errors(text) == []
    (remittance,) = read_all(text)
    reversal, correction = remittance.claims
    assert reversal.status == "22"
    assert reversal.payer_claim_number == "PCN0000000001"
    assert (reversal.charge_cents, reversal.paid_cents) == (-15000, -10000)
    assert reversal.patient_responsibility_cents == -2000
    assert reversal.lines[0].units_paid == Decimal(-1)
    assert [(a.group, a.reason, a.amount_cents) for a in reversal.lines[0].adjustments] == [
        ("CO", "45", -3000),
        ("PR", "3", -2000),
    ]
    assert correction.status == "1"
    assert correction.payer_claim_number == "PCN0000000011"
    assert correction.paid_cents == 11000
    assert remittance.totals.paid_cents == 1000 == remittance.totals.payment_cents


def test_signed_plbs_several_per_segment_and_several_segments() -> None:
    text = interchange([transaction(PAID, paid="87.75", plb=PLBS)])
    # The guide repeats PLB (">1") inside its one footer loop, but pyx12 counts each PLB as a
    # new footer loop: its only complaint. Each PLB alone passes it.
    assert x12valid_errors(text) == [
        "Line:26 SEG:4 - Loop FOOTER exceeded max count.  Found 2, should have 1"
    ]
    first, second = PLBS.splitlines(keepends=True)
    assert x12valid_errors(interchange([transaction(PAID, paid="85.75", plb=first)])) == []
    assert x12valid_errors(interchange([transaction(PAID, paid="102", plb=second)])) == []
    (remittance,) = read_all(text)
    assert [
        (p.reason, p.reference, p.amount_cents, p.position) for p in remittance.provider_adjustments
    ] == [
        ("L6", "PCN0000000001", -125, 25),
        ("WO", "PCN0000000002", 1000, 25),
        ("72", "RF20261101", 550, 25),
        ("FB", "PCN0000000003", -200, 26),
    ]
    adjustment = remittance.provider_adjustments[0]
    assert adjustment.provider_id == "2123456784"
    assert adjustment.fiscal_period_end == date(2026, 12, 31)
    assert remittance.totals.provider_adjustment_cents == 1225
    assert remittance.totals.payment_cents == 10000 - 1225


def test_a_duplicate_a_line_denial_and_six_triplets() -> None:
    claims = DUPLICATE + LINE_DENIED + SIX_TRIPLETS
    text = interchange([transaction(claims, paid="220.5")])
    assert x12valid_errors(text) == []
    (remittance,) = read_all(text)
    duplicate, line_denied, six = remittance.claims
    assert duplicate.status == "4"
    assert duplicate.lines == ()
    assert [(a.group, a.reason, a.amount_cents) for a in duplicate.adjustments] == [
        ("CO", "18", 15000)
    ]
    paid_line, denied_line = line_denied.lines
    assert paid_line.paid_cents == 10000
    assert denied_line.paid_cents == 0
    assert denied_line.procedure.code == "90785"
    assert denied_line.control_number == "L0000004A2"
    assert denied_line.remark_codes == ("M80",)
    assert [(a.group, a.reason, a.amount_cents) for a in denied_line.adjustments] == [
        ("CO", "97", 2550)
    ]
    assert line_denied.charge_cents == 17550
    assert six.lines[0].procedure.modifiers == ("95",)
    assert [(a.reason, a.amount_cents, a.quantity) for a in six.lines[0].adjustments] == [
        ("45", 2000, Decimal(1)),
        ("253", 300, None),
        ("59", 200, None),
        ("94", 100, None),
        ("97", 150, None),
        ("B10", 200, None),
    ]


def test_a_notification_only_payment_moves_no_money() -> None:
    bpr = "BPR*H*0*C*NON************20261204~\n"
    text = interchange([transaction(DENIED, bpr=bpr)])
    assert x12valid_errors(text) == []
    (remittance,) = read_all(text)
    assert remittance.notification_only
    assert (remittance.payment_method, remittance.amount_cents) == ("NON", 0)
    assert remittance.claims[0].lines[0].remark_codes == ("N115",)


def test_a_repeated_trace_number_is_read_the_posting_refuses_it() -> None:
    body = transaction(PAID, trace="EFT0001")
    text = interchange([body, body])
    assert x12valid_errors(text) == []
    first, second = read_all(text)
    assert (first.trace_number, first.trace_originator) == (
        second.trace_number,
        second.trace_originator,
    )


def test_a_patient_responsibility_that_does_not_add_up_is_a_warning() -> None:
    text = interchange([transaction(PAID.replace("*100*20*12*", "*100*25*12*"))])
    summary, remittances = read_835(io.BytesIO(text.encode()))
    assert summary.warnings == 1
    (remittance,) = list(remittances)
    (warning,) = remittance.warnings
    assert (warning.code, warning.segment, warning.position) == (
        "patient_responsibility_mismatch",
        "CLP",
        16,
    )
    assert "M00000001" not in warning.message
    assert "HC0000001A" not in warning.message


DELIMITERS = [
    pytest.param("|", ">", "^", "~", "", id="pipe"),
    pytest.param("^", "\\", "!", "~", "", id="caret-elements"),
    pytest.param("\x1d", ":", "^", "\x1c", "", id="control-characters"),
    pytest.param("*", ":", "^", "~", "\r\n", id="crlf"),
    pytest.param("*", ":", "^", "\n", "", id="newline-terminator"),
]


@pytest.mark.parametrize(("element", "component", "repetition", "terminator", "breaks"),
                         DELIMITERS)  # fmt: skip
def test_delimiters_come_from_the_isa(
    element: str, component: str, repetition: str, terminator: str, breaks: str
) -> None:
    standard = interchange([transaction(SIX_TRIPLETS + PAID, paid="220.5", plb="")])
    text = redelimit(standard, element=element, component=component, repetition=repetition,
                     terminator=terminator, breaks=breaks)  # fmt: skip
    assert x12valid_errors(text) == []
    assert read_all(text) == read_all(standard)


def test_control_characters_as_every_delimiter() -> None:
    standard = interchange([transaction(SIX_TRIPLETS + PAID, paid="220.5", plb="")])
    text = redelimit(standard, element="\x1d", component="\x1f", repetition="\x1e",
                     terminator="\x1c")  # fmt: skip
    assert read_all(text) == read_all(standard)
    # pyx12 checks ISA11 and ISA16 as data against the character sets, so it refuses a control
    # character there (and only there: the same file with : and ^ passes, test above).
    errors = x12valid_errors(text)
    assert len(errors) == 2
    assert all("(ISA11)" in e or "(ISA16)" in e for e in errors), errors
    assert all("invalid control character" in e for e in errors), errors


def test_a_byte_order_mark_and_a_wrongly_padded_isa() -> None:
    standard = interchange([transaction()])
    # pyx12 reads a 106-character ISA and no BOM, so it checks the standard file: the same
    # segments, which are what our reader sees once it has the delimiters.
    assert x12valid_errors(standard) == []
    expected = read_all(standard)
    assert read_all(b"\xef\xbb\xbf" + standard.encode()) == expected
    assert read_all("\ufeff" + standard) == expected  # a text stream that kept the BOM
    padded = read_all(pad_isa(standard))
    assert padded[0].envelope.sender_id == "EVGRN"
    assert padded[0].claims == expected[0].claims


@pytest.mark.parametrize("chunk", [16, 97, 4096])
def test_segments_across_chunk_boundaries(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = interchange([transaction(LINE_DENIED + SIX_TRIPLETS, paid="220.5", plb="")])
    expected = read_all(text)
    monkeypatch.setattr(stream, "CHUNK_CHARS", chunk)
    assert read_all(text) == expected
    assert list(iter_835(io.StringIO(text.replace("\n", "\r\n")))) == expected


def test_every_situational_element_of_a_claim_and_its_lines() -> None:
    text = interchange([transaction(EVERY_ELEMENT + PAID, paid="230")])
    assert x12valid_errors(text) == []
    (remittance,) = read_all(text)
    claim, plain = remittance.claims
    assert (claim.charge_cents, claim.paid_cents, claim.patient_responsibility_cents) == (
        20000,
        13000,
        2000,
    )
    assert [(a.group, a.reason, a.amount_cents) for a in claim.adjustments] == [("OA", "23", 2000)]
    assert claim.remark_codes == ("MA01", "MA02")
    assert [(r.qualifier, r.value) for r in claim.references] == [("EA", "MR0000007")]
    assert [(d.qualifier, d.value) for d in claim.dates] == [("232", date(2026, 11, 1))]
    assert [(a.qualifier, a.amount_cents) for a in claim.amounts] == [("AU", 15000)]
    assert [(q.qualifier, q.value) for q in claim.quantities] == [("CA", Decimal(1))]
    assert (claim.facility_code, claim.frequency) == ("11", "1")
    full, bare = claim.lines
    assert full.revenue_code == "0510"
    assert full.units_paid == Decimal(1)
    assert full.submitted_procedure is not None
    assert (full.submitted_procedure.qualifier, full.submitted_procedure.code) == ("HC", "90834")
    assert full.units_submitted == Decimal(2)
    assert full.control_number == "L0000007A1"
    assert [(r.qualifier, r.value) for r in full.references] == [("LU", "LOC7")]
    assert [(a.qualifier, a.amount_cents) for a in full.amounts] == [("B6", 15000)]
    assert [(q.qualifier, q.value) for q in full.quantities] == [("ZL", Decimal(2))]
    assert full.remark_codes == ("N130",)
    assert (full.position, bare.position) == (claim.position + 8, claim.position + 17)
    assert bare.procedure.code == "90785"
    assert (bare.revenue_code, bare.submitted_procedure, bare.units_submitted) == (None, None, None)
    assert (bare.references, bare.amounts, bare.quantities, bare.remark_codes) == ((), (), (), ())
    assert bare.control_number == "L0000007A2"
    assert [(a.group, a.reason, a.amount_cents) for a in bare.adjustments] == [("PR", "2", 1000)]
    # A claim with none of them keeps every default.
    assert (plain.remark_codes, plain.amounts, plain.quantities, plain.references) == (
        (),
        (),
        (),
        (),
    )
    assert plain.position == claim.position + 21
