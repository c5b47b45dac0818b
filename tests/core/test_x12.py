"""services/core/x12.py: delimiters from the ISA, the tokenizer and the envelope writer/reader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.core.x12 import (
    ControlNumbers,
    Delimiters,
    Envelope,
    X12Error,
    read_delimiters,
    read_interchange,
    repeats,
    segments,
    to_x12_letters,
    write_interchange,
    write_segment,
)

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
ENV = Envelope("HEARTH", "HEARTHCH", "HS", "005010X279A1")
ISA = (
    "ISA*00*          *00*          *ZZ*HEARTH         *ZZ*HEARTHCH       "
    "*261126*0930*^*00501*000000007*0*P*:~"
)


def test_standard_delimiters() -> None:
    assert read_delimiters(ISA + "GS*HS~") == Delimiters("*", ":", "^", "~")


def test_other_delimiters_and_newline_terminator() -> None:
    text = ISA.replace("*", "|").replace("|:~", "|>\n").replace("|^|", "|{|") + "GS|HS\n"
    d = read_delimiters(text)
    assert d == Delimiters("|", ">", "{", "\n")
    assert [s[0] for s in segments(text)] == ["ISA", "GS"]


def test_badly_padded_isa_found_by_counting_elements() -> None:
    text = "ISA*00**00**ZZ*HEARTH*ZZ*HEARTHCH*261126*0930*^*00501*000000007*0*P*!#GS*HS#"
    assert len(text.split("#")[0]) < 105  # ISA16 is not at its fixed position
    assert read_delimiters(text) == Delimiters("*", "!", "^", "#")
    assert list(segments(text))[1] == ["GS", "HS"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GS*HS~",
        "ISA*00*",
        "ISA*00*x*00*x*ZZ*A*ZZ*B*1*2*^*00501*1*0*P*",
        "ISA*0*0*0*0*0*0*0*0*0*0*^*0*0*0*P*:A",
    ],
)
def test_malformed_isa_refused(text: str) -> None:
    with pytest.raises(X12Error):
        read_delimiters(text)


def test_tokenizer_tolerates_crlf_after_terminators() -> None:
    text = ISA + "\r\nGS*HS*A~\r\nST*270*0001~\n\n"
    assert list(segments(text))[1:] == [["GS", "HS", "A"], ["ST", "270", "0001"]]


def test_repeats_split_on_isa11() -> None:
    assert repeats("1^33^MH", Delimiters()) == ["1", "33", "MH"]
    assert repeats("", Delimiters()) == []


def test_write_segment_composites_repeats_and_trailing_empties() -> None:
    d = Delimiters()
    seg = write_segment(("EQ", ["MH", "30"], ("HC", "90837", ""), "", ""), d)
    assert seg == "EQ*MH^30*HC:90837~"


def test_accented_latin_letters_are_written_without_their_accents() -> None:
    seg = write_segment(("NM1", "IL", "1", "Peña-Łódź", "José Ægir"), Delimiters())
    assert seg == "NM1*IL*1*Pena-Lodz*Jose AEgir~"


def test_every_letter_the_input_rule_admits_becomes_an_x12_letter() -> None:
    # schemas/common.py X12_SAFE admits U+00C0-U+017F less the signs x and the division sign.
    admitted = [*range(0xC0, 0xD7), *range(0xD8, 0xF7), *range(0xF8, 0x180)]
    for code_point in admitted:
        written = to_x12_letters(chr(code_point))
        assert written.isascii(), (hex(code_point), written)
        assert written.isalpha(), (hex(code_point), written)


@pytest.mark.parametrize("bad", ["A\u20acB", "A\u4e2dB", "A\u00d7B"])
def test_write_segment_refuses_what_no_x12_letter_stands_for(bad: str) -> None:
    with pytest.raises(X12Error):
        write_segment(("NM1", "IL", bad), Delimiters())


@pytest.mark.parametrize("bad", ["A*B", "A~B", "A:B", "A^B", "A\nB", "A\x00B"])
def test_write_segment_refuses_delimiters_in_values(bad: str) -> None:
    with pytest.raises(X12Error, match="delimiter or control"):
        write_segment(("NM1", "IL", bad), Delimiters())


@pytest.mark.parametrize("bad", ["A*B", "A~B", "A:B", "A^B", "A\nB", "A\x00B", "*", "A\u4e2d"])
@pytest.mark.parametrize(
    "where",
    [
        lambda v: ("NM1", "IL", "1", v, "", ""),  # plain values, trailing empties
        lambda v: ("NM1", v, ""),
        lambda v: ("SV1", ("HC", "90837"), v),  # beside a composite
        lambda v: ("SV1", ("HC", v, "95"), "150.00"),  # inside a composite
        lambda v: ("EQ", ["MH", v]),  # inside a repeat
        lambda v: ("NM1", "IL", "Pe\u00f1a", v),  # beside a value that needs converting
    ],
)
def test_write_segment_refuses_a_bad_value_in_any_position(
    bad: str, where: Callable[[str], tuple[Any, ...]]
) -> None:
    with pytest.raises(X12Error):
        write_segment(where(bad), Delimiters())


@pytest.mark.parametrize(
    ("segment", "written"),
    [
        (("NM1", "IL", "1", "Lee", "", "", ""), "NM1*IL*1*Lee~"),
        (("HL", "1", "", "20", "1"), "HL*1**20*1~"),
        (("PAT",), "PAT~"),
        (("SV1", ("HC", "90837", ""), "150.00", "", ("1", "")), "SV1*HC:90837*150.00**1~"),
        (("CLM", "A1", ("11", "B", "1"), "", ""), "CLM*A1*11:B:1~"),
        (("NM1", "IL", ("Pe\u00f1a", "X")), "NM1*IL*Pena:X~"),
    ],
)
def test_write_segment_trims_trailing_empties_on_every_path(
    segment: tuple[Any, ...], written: str
) -> None:
    assert write_segment(segment, Delimiters()) == written


@pytest.mark.parametrize("segment", [(), ("",), ("", "A"), ("", ("A", "B"))])
def test_write_segment_needs_its_id(segment: tuple[Any, ...]) -> None:
    with pytest.raises(X12Error, match="needs its id"):
        write_segment(segment, Delimiters())


def test_write_segment_honours_other_delimiters() -> None:
    d = Delimiters(element="|", component=">", repetition="!", segment="\n")
    assert write_segment(("SV1", ("HC", "90837"), "A*B:C~D", ""), d) == "SV1|HC>90837|A*B:C~D\n"
    with pytest.raises(X12Error):
        write_segment(("NM1", "A|B"), d)
    with pytest.raises(X12Error):
        write_segment(("NM1", ("A", "B>C")), d)


def test_envelope_counts_control_numbers_and_fixed_width_isa() -> None:
    body = [("BHT", "0022", "13", "R1", "20261126", "0930"), ("HL", "1", "", "20", "1")]
    text = write_interchange(
        [("270", body), ("270", body)],
        envelope=ENV,
        control=ControlNumbers(interchange=42, group=7, transaction=9),
        now=NOW,
    )
    isa = text.split("~")[0]
    assert len(isa) == 105
    assert isa == ISA[:-1].replace("000000007", "000000042")
    assert text.endswith(
        "ST*270*0010*005010X279A1~BHT*0022*13*R1*20261126*0930~HL*1**20*1~SE*4*0010~"
        "GE*2*7~IEA*1*000000042~"
    )
    parsed = read_interchange(text)
    assert [(t.set_id, t.control, len(t.segments)) for t in parsed.transactions] == [
        ("270", "0009", 4),
        ("270", "0010", 4),
    ]


def test_envelope_refuses_bad_identities_and_control_numbers() -> None:
    with pytest.raises(X12Error, match="ISA06"):
        write_interchange(
            [("270", [("BHT",)])],
            envelope=Envelope("A" * 16, "B", "HS", "005010X279A1"),
            control=ControlNumbers(1, 1),
            now=NOW,
        )
    with pytest.raises(X12Error, match="control number"):
        ControlNumbers(interchange=0, group=1)
    with pytest.raises(X12Error, match="control number"):
        ControlNumbers(interchange=1_000_000_000, group=1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("SE*4*0001", "SE*5*0001", "SE01"),
        ("GE*1*1", "GE*2*1", "GE01"),
        ("IEA*1*000000001", "IEA*1*000000002", "IEA02"),
        ("SE*4*0001~GE*1*1~IEA*1*000000001~", "SE*4*0001~", "truncated"),
    ],
)
def test_reader_checks_every_count(old: str, new: str, message: str) -> None:
    body = [("BHT", "0022", "13", "R1", "20261126", "0930"), ("HL", "1", "", "20", "1")]
    text = write_interchange([("270", body)], envelope=ENV, control=ControlNumbers(1, 1), now=NOW)
    assert old in text
    with pytest.raises(X12Error, match=message):
        read_interchange(text.replace(old, new))
