"""The CORE Phase II envelope: request fields, multipart encoding and answer parsing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.clearinghouse.caqh_core import (
    PAYLOAD_270,
    CoreProtocolError,
    Credentials,
    _plain_fields,
    decode_multipart,
    encode_multipart,
    parse_response,
    request_fields,
)

CREDS = Credentials("hearth", "hearth-sim-password", "HEARTH", "HEARTHCH")
X12 = "ISA*00*          *00*~GS*HS~\r\nST*270*0001~"


def test_request_fields_in_core_order() -> None:
    pid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    fields = request_fields(
        payload_type=PAYLOAD_270,
        payload=X12,
        payload_id=pid,
        now=datetime(2026, 11, 26, 9, 30, 5, tzinfo=UTC),
        credentials=CREDS,
    )
    assert fields == {
        "PayloadType": "X12_270_Request_005010X279A1",
        "ProcessingMode": "RealTime",
        "PayloadID": "12345678-1234-5678-1234-567812345678",
        "TimeStamp": "2026-11-26T09:30:05Z",
        "SenderID": "HEARTH",
        "ReceiverID": "HEARTHCH",
        "CORERuleVersion": "2.2.0",
        "UserName": "hearth",
        "Password": "hearth-sim-password",
        "Payload": X12,
    }


def test_multipart_round_trip_keeps_the_payload_byte_for_byte() -> None:
    fields = {"PayloadType": "X", "Payload": X12, "Empty": ""}
    body, content_type = encode_multipart(fields, "b0undary")
    assert content_type == "multipart/form-data; boundary=b0undary"
    assert body.startswith(b'--b0undary\r\nContent-Disposition: form-data; name="PayloadType"')
    assert decode_multipart(content_type, body) == fields


def test_boundary_inside_a_value_refused() -> None:
    with pytest.raises(ValueError, match="boundary"):
        encode_multipart({"Payload": "x--b0undary"}, "b0undary")


def test_parse_response_and_envelope_error() -> None:
    fields = {
        "PayloadType": "CoreEnvelopeError",
        "ProcessingMode": "RealTime",
        "PayloadID": "p1",
        "ErrorCode": "Unauthorized",
        "ErrorMessage": "bad password",
    }
    answer = parse_response(*reversed(encode_multipart(fields, "zz")))
    assert answer.is_envelope_error
    assert (answer.error_code, answer.error_message, answer.payload) == (
        "Unauthorized",
        "bad password",
        "",
    )


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"{}", "multipart/form-data"),
        ("multipart/form-data; boundary=zz", b"--zz--\r\n", "no parts|lacks"),
    ],
)
def test_parse_response_refuses_non_core_answers(
    content_type: str, body: bytes, message: str
) -> None:
    with pytest.raises(CoreProtocolError, match=message):
        parse_response(content_type, body)


def test_parse_response_names_missing_fields() -> None:
    body, content_type = encode_multipart({"PayloadType": "X"}, "zz")
    with pytest.raises(CoreProtocolError, match="ProcessingMode, PayloadID, ErrorCode"):
        parse_response(content_type, body)


_NAMES = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", min_size=1
)
_VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


@settings(deadline=None, max_examples=200)
@given(fields=st.dictionaries(_NAMES, _VALUES, min_size=1, max_size=12))
def test_plain_form_fields_read_back_exactly(fields: dict[str, str]) -> None:
    """The fast reading of plain fields gives back every value, line ends and all."""
    assume(not any("b0undary" in value for value in fields.values()))
    body, content_type = encode_multipart(fields, "b0undary")
    assert _plain_fields(content_type, body) == fields
    assert decode_multipart(content_type, body) == fields


def test_parts_in_other_shapes_are_read_by_the_mime_parser() -> None:
    """Another header, a transfer encoding, a quoted boundary, an epilogue: still read."""
    body = (
        b"preamble\r\n--q b\r\n"
        b'Content-Disposition: form-data; name="PayloadID"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"abc\r\n--q b\r\n"
        b'content-disposition: form-data; name="Payload"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"SVNBKjAwfg==\r\n--q b--\r\nepilogue"
    )
    content_type = 'multipart/form-data; boundary="q b"'
    assert _plain_fields(content_type, body) is None
    assert decode_multipart(content_type, body) == {"PayloadID": "abc", "Payload": "ISA*00~"}


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition: form-data; name="A"\r\n\r\nx\r\n--b--\r\nmore',
        b'--b\r\nContent-Disposition: form-data; name="A"\r\n\r\nx\r\n--b',
        b'--b\r\nContent-Disposition: form-data; name="A"\r\n\r\n\xff\r\n--b--\r\n',
        b'--b\r\nContent-Disposition: form-data; name="A"; filename="f"\r\n\r\nx\r\n--b--\r\n',
    ],
)
def test_the_fast_reading_leaves_anything_unusual_to_the_mime_parser(body: bytes) -> None:
    assert _plain_fields("multipart/form-data; boundary=b", body) is None
