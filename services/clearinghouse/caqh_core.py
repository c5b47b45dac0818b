"""CAQH CORE Phase II connectivity: the HTTP MIME (multipart/form-data) envelope (pure).

Real-time requests carry PayloadType, ProcessingMode, PayloadID (a UUID, reused on every retry
so the receiver answers a repeat with its first answer), TimeStamp, SenderID, ReceiverID,
CORERuleVersion, UserName, Password and Payload; the answer carries the same fields plus
ErrorCode (`Success` or the reason) and ErrorMessage. An envelope the receiver refuses comes
back with PayloadType `CoreEnvelopeError`. This module knows nothing of HTTP clients, so
another transport (a clearinghouse's REST API) can sit beside it.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

PAYLOAD_270 = "X12_270_Request_005010X279A1"
PAYLOAD_271 = "X12_271_Response_005010X279A1"
# Batch mode (Phase II): an 837P goes in and only its receipt comes back; the 999 (or a TA1 when
# the interchange was refused) and the 277CA are fetched later by retrievals whose Payload is
# the submission's PayloadID, answered "no file yet" until there is one.
PAYLOAD_837 = "X12_837_Request_005010X222A1"
RECEIPT = "X12_Response_ConfirmReceiptReceived"
RETRIEVE_999 = "X12_999_RetrievalRequest_005010X231A1"
PAYLOAD_999 = "X12_999_Response_005010X231A1"
PAYLOAD_TA1 = "X12_TA1_Response_00501X231A1"
NO_ACK_FILE = "X12_NoBatchAckFile"
RETRIEVE_277 = "X12_005010_Request_Batch_Results_277"
PAYLOAD_277 = "X12_005010_Response_Batch_Results_277"
NO_RESULTS_FILE = "X12_NoBatchResultsFile"
# 835 retrieval (ERA): the Payload is a cursor, "0" or the ISA13 of the last 835 we hold; the
# answer is the next 835 after it, or NO_RESULTS_FILE when there is none.
REQUEST_835 = "X12_835_Request_005010X221A1"
PAYLOAD_835 = "X12_835_Response_005010X221A1"
BATCH = "Batch"
ENVELOPE_ERROR = "CoreEnvelopeError"
CORE_RULE_VERSION = "2.2.0"
REALTIME = "RealTime"
SUCCESS = "Success"

_RESPONSE_FIELDS = ("PayloadType", "ProcessingMode", "PayloadID", "ErrorCode")


class CoreProtocolError(ValueError):
    """A response that is not a CORE multipart envelope."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    sender_id: str
    receiver_id: str


@dataclass(frozen=True, slots=True)
class CoreResponse:
    payload_type: str
    payload_id: str
    error_code: str
    error_message: str
    payload: str
    fields: dict[str, str]

    @property
    def is_envelope_error(self) -> bool:
        return self.payload_type == ENVELOPE_ERROR or self.error_code != SUCCESS


def request_fields(
    *,
    payload_type: str,
    payload: str,
    payload_id: uuid.UUID,
    now: datetime,
    credentials: Credentials,
    processing_mode: str = REALTIME,
) -> dict[str, str]:
    """The form fields of one request, in the order CORE lists them.

    A batch request also carries PayloadLength (bytes of the UTF-8 payload) and CheckSum (its
    SHA-1, hex), which the receiver checks before it reads the payload.
    """
    batch = {}
    if processing_mode == BATCH:
        data = payload.encode("utf-8")
        # CORE names SHA-1 for the checksum: an integrity check, not a security one.
        digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        batch = {"PayloadLength": str(len(data)), "CheckSum": digest}
    return {
        "PayloadType": payload_type,
        "ProcessingMode": processing_mode,
        "PayloadID": str(payload_id),
        **batch,
        "TimeStamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SenderID": credentials.sender_id,
        "ReceiverID": credentials.receiver_id,
        "CORERuleVersion": CORE_RULE_VERSION,
        "UserName": credentials.username,
        "Password": credentials.password,
        "Payload": payload,
    }


def encode_multipart(fields: dict[str, str], boundary: str) -> tuple[bytes, str]:
    """The multipart/form-data body and its Content-Type header."""
    if any(boundary in value for value in fields.values()):
        raise ValueError("the multipart boundary occurs in a field value")
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8"), f"multipart/form-data; boundary={boundary}"


def decode_multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart/form-data body (as a CORE receiver or sender sends them)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise CoreProtocolError(f"expected multipart/form-data, got {content_type!r}")
    simple = _plain_fields(content_type, body)
    if simple is not None:
        return simple
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    # compat32, not the HTTP policy: its header objects cost about 4 ms a parse (7 times
    # slower); the parts, parameters and decoding read the same.
    message = _PARSER.parsebytes(head + body)
    parts = message.get_payload() if message.is_multipart() else None
    if not parts or not isinstance(parts, list):
        raise CoreProtocolError("the multipart body has no parts")
    fields: dict[str, str] = {}
    for part in parts:
        if not isinstance(part, email.message.Message):
            raise CoreProtocolError("a multipart part is not a MIME part")
        name = part.get_param("name", header="content-disposition")
        if name is None or name == "":
            raise CoreProtocolError("a multipart part has no field name")
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        fields[email.utils.collapse_rfc2231_value(name)] = data.decode(
            part.get_content_charset() or "utf-8"
        )
    return fields


_BOUNDARY = re.compile(r';\s*boundary=("?)([0-9A-Za-z\'()+_,./:=?-]{1,70})\1\s*$', re.IGNORECASE)
_PLAIN_PART = re.compile(
    rb'Content-Disposition: form-data; name="([A-Za-z0-9_]+)"\r\n\r\n', re.IGNORECASE
)


def _plain_fields(content_type: str, body: bytes) -> dict[str, str] | None:
    """The fields when every part is a plain UTF-8 form field, the shape CORE answers take;
    None for anything else (other headers, transfer encodings, other line ends), which the
    email parser reads. A real-time check spent most of its parsing time in that parser."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        return None
    delimiter = b"--" + found[2].encode()
    closing = b"\r\n" + delimiter + b"--"
    end = body.rfind(closing)
    if end < 0 or not body.startswith(delimiter + b"\r\n"):
        return None
    if body[end + len(closing) :] not in (b"", b"\r\n"):
        return None
    fields: dict[str, str] = {}
    for part in body[len(delimiter) + 2 : end].split(b"\r\n" + delimiter + b"\r\n"):
        header = _PLAIN_PART.match(part)
        if header is None or delimiter in part:
            return None
        try:
            fields[header[1].decode()] = part[header.end() :].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return fields


_PARSER = email.parser.BytesParser(policy=email.policy.compat32)


def parse_response(content_type: str, body: bytes) -> CoreResponse:
    """A CORE answer; CoreProtocolError when it is not one."""
    fields = decode_multipart(content_type, body)
    missing = [name for name in _RESPONSE_FIELDS if name not in fields]
    if missing:
        raise CoreProtocolError(f"the CORE answer lacks {', '.join(missing)}")
    return CoreResponse(
        payload_type=fields["PayloadType"],
        payload_id=fields["PayloadID"],
        error_code=fields["ErrorCode"],
        error_message=fields.get("ErrorMessage", ""),
        payload=fields.get("Payload", ""),
        fields=fields,
    )
