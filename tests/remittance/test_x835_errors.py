"""Malformed 835 files are refused with the segment and its position, and nothing is yielded.

Positions count segments from the ISA (1). In the one-claim file: ST 3, BPR 4, CLP 16, SVC 19,
the line's CAS 21 and 22, SE 25, GE 26, IEA 27.
"""

from __future__ import annotations

import io

import pytest

from services.remittance.x835 import X835Error, iter_835, read_835, validate_835
from tests.remittance.fixtures import DENIED, PAID, interchange, transaction

GOOD = interchange([transaction(PAID)])


def refusal(text: str | bytes) -> X835Error:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(X835Error) as caught:
        read_835(io.BytesIO(raw))
    return caught.value


def test_the_good_file_is_read() -> None:
    assert validate_835(io.BytesIO(GOOD.encode())).segments == 27


@pytest.mark.parametrize(
    ("broken", "segment", "position", "says"),
    [
        pytest.param(GOOD.replace("SE*23*", "SE*22*"), "SE", 25, "SE01 does not count the 23",
                     id="se-count"),
        pytest.param(GOOD.replace("SE*23*0001", "SE*23*0002"), "SE", 25, "SE02", id="se-control"),
        pytest.param(GOOD.replace("GE*1*", "GE*2*"), "GE", 26, "GE01", id="ge-count"),
        pytest.param(GOOD.replace("GE*1*1011", "GE*1*1012"), "GE", 26, "GE02 does not match GS06",
                     id="ge-control"),
        pytest.param(GOOD.replace("IEA*1*", "IEA*2*"), "IEA", 27, "IEA01", id="iea-count"),
        pytest.param(GOOD.replace("IEA*1*000000101", "IEA*1*000000102"), "IEA", 27,
                     "IEA02 does not match ISA13", id="iea-control"),
        pytest.param(GOOD.replace("*150*100*20*12*", "*150*90*20*12*").replace("I*100*", "I*90*"),
                     "CLP", 16, "CLP03 150.00 less its claim and line adjustments 50.00 is not"
                     " CLP04 90.00", id="claim-balance"),
        pytest.param(GOOD.replace("SVC*HC:90837*150*100", "SVC*HC:90837*150*95"), "SVC", 19,
                     "SVC02 150.00 less its adjustments 50.00 is not SVC03 95.00",
                     id="line-balance"),
        pytest.param(GOOD.replace("BPR*I*100*", "BPR*I*100.01*"), "BPR", 4,
                     "BPR02 100.01 is not the claims' CLP04 100.00 less the PLB adjustments 0.00",
                     id="payment-balance"),
        pytest.param(GOOD.replace("CAS*PR*3*20~", "CAS*PR*3*20.005~"), "CAS", 22,
                     "CAS03 has fractions of a cent", id="fraction-of-a-cent"),
        pytest.param(GOOD.replace("CAS*PR*3*20~", "CAS*PR*3*2O~"), "CAS", 22,
                     "CAS03 is not a decimal amount", id="not-an-amount"),
        pytest.param(GOOD.replace("CAS*PR*3*20~", "CAS*XX*3*20~"), "CAS", 22,
                     "CAS01 must be CO, PR, OA or PI", id="cas-group"),
        pytest.param(GOOD.replace("DTM*472*20261102", "DTM*472*20261131"), "DTM", 20,
                     "DTM02 is not a calendar date", id="bad-date"),
        pytest.param(GOOD.replace("CLP*HC0000001A*1*", "CLP**1*"), "CLP", 16, "CLP01 is required",
                     id="missing-element"),
        pytest.param(GOOD.replace("GS*HP*", "GS*HC*"), "GS", 2, "GS01 is not HP", id="not-835"),
        pytest.param(GOOD.replace("ST*835*", "ST*837*"), "ST", 3, "ST01 is not 835",
                     id="st-not-835"),
        pytest.param(GOOD.replace("LX*1~\n", "LX*1~\nFOO*1~\n"), "FOO", 16, "not a segment",
                     id="unknown-segment"),
        pytest.param(GOOD.replace("TRN*1*", "TRX*1*"), "TRX", 5, "not a segment",
                     id="no-trn"),
        pytest.param(GOOD.replace("ST*835*0001~\nBPR", "ST*835*0001~\nTRN*1*X*1~\nBPR"), "TRN", 4,
                     "TRN comes once, right after BPR", id="order"),
        pytest.param(GOOD.replace("LQ", "").replace("AMT*B6*120~", "AMT*B6*120~\nNM1*QC*1*X~"),
                     "NM1", 25, "belongs to the claim, before any SVC", id="nm1-in-a-line"),
        pytest.param(GOOD.replace("DTM*050*20261120~", "DTM*050*20261120~\nLQ*HE*N115~"), "LQ", 19,
                     "is out of place: it follows an SVC", id="lq-before-an-svc"),
        pytest.param(GOOD.replace("AMT*B6*120~", "REF*6R*L2~"), "REF", 24,
                     "is a second REF*6R for one line", id="second-line-control"),
        pytest.param(GOOD.replace("SE*23*0001~\n", ""), "GE", 25, "comes before the"
                     " transaction's SE", id="no-se"),
        pytest.param(GOOD.replace("CUR", "").replace("REF*EV*HEARTH~", "CUR*PR*CAD~"), "CUR", 6,
                     "CUR02 is not USD", id="not-dollars"),
    ],
)  # fmt: skip
def test_each_refusal_names_the_segment_and_its_position(
    broken: str, segment: str, position: int, says: str
) -> None:
    error = refusal(broken)
    assert (error.segment, error.position) == (segment, position), str(error)
    assert says in str(error)
    assert str(error).startswith(f"{segment} (segment {position}): ")
    assert error.where == f"{segment} (segment {position})"


def test_a_truncated_file() -> None:
    cut = GOOD.index("SVC*HC:90837")
    after_a_segment = refusal(GOOD[:cut])  # ends right after DTM*050, segment 18
    assert (after_a_segment.segment, after_a_segment.position) == ("DTM", 18)
    assert "truncated" in str(after_a_segment)
    inside_a_segment = refusal(GOOD[: cut + 8])  # "SVC*HC:9", no terminator
    assert (inside_a_segment.segment, inside_a_segment.position) == ("SVC", 19)
    assert "no terminator" in str(inside_a_segment)
    for cut_at, segment, position in [("NM1*QC", "CLP", 16), ("AMT*B6", "REF", 23)]:
        in_a_claim = refusal(GOOD[: GOOD.index(cut_at)])  # a claim, a line without its end
        assert (in_a_claim.segment, in_a_claim.position) == (segment, position)
        assert "truncated: it ends before its SE" in str(in_a_claim)
    no_iea = refusal(GOOD[: GOOD.index("IEA")])
    assert (no_iea.segment, no_iea.position) == ("GE", 26)


@pytest.mark.parametrize(
    "text",
    [b"", b"hello world", b"<html><body>835</body></html>", b"GS*HP*EVGRN~", b"\xff\xfeI\x00S\x00"],
)
def test_what_is_not_x12_is_refused_at_the_first_segment(text: bytes) -> None:
    error = refusal(text)
    assert error.position == 1
    assert "not" in str(error)


def test_a_broken_isa() -> None:
    assert refusal(GOOD.replace("*00501*", "*00401*")).where == "ISA (segment 1)"
    short = refusal("ISA*00*          *00*  ~GS*HP~")
    assert short.where == "ISA (segment 1)"
    same = refusal(GOOD.replace("*^*00501*", "*:*00501*"))
    assert "distinct" in str(same)


def test_text_without_a_terminator_is_refused_without_buffering_it() -> None:
    endless = GOOD[: GOOD.index("GS")] + "GS*" + "A" * 200_000
    error = refusal(endless)
    assert (error.segment, error.position) == ("GS", 2)


def test_nothing_is_yielded_from_a_file_whose_end_is_wrong() -> None:
    good, bad = transaction(PAID), transaction(DENIED, paid="0.01")
    text = interchange([good, bad])
    error = refusal(text)  # read_835 validates everything before the first yield
    assert (error.segment, error.position) == ("BPR", 27)
    # iter_835 streams: the first transaction comes out before the second is refused, so a
    # caller that uses it must roll back everything it did with the file.
    remittances = iter_835(io.BytesIO(text.encode()))
    assert next(remittances).trace_number == "EFT0001"
    with pytest.raises(X835Error):
        next(remittances)


def test_read_835_needs_a_stream_it_can_read_twice() -> None:
    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(TypeError):
        read_835(Pipe())


def test_read_835_reads_again_from_where_the_stream_was() -> None:
    prefix = b"not this part\n"
    file = io.BytesIO(prefix + GOOD.encode())
    file.seek(len(prefix))
    summary, remittances = read_835(file)
    assert summary.transactions == 1
    assert [r.trace_number for r in remittances] == ["EFT0001"]
