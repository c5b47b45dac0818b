"""The CAQH CORE connectivity envelope (rule vC2.2.0, HTTP+MIME multipart/form-data), receiver side.

Error codes follow the rule's envelope error vocabulary: `Success`; `<Field>Required` when a
field is missing or empty (`PayloadIDRequired`, ...); `<Field>Illegal` when its value is not
acceptable (`PayloadIDIllegal` for a PayloadID that is not a UUID, `TimeStampIllegal`, ...);
`VersionMismatch` for a CORERuleVersion other than 2.2.0; `UnAuthorized` for bad credentials.
HTTP status: 200 with a payload, 400 for an envelope error, 401 for UnAuthorized. Kept in one
module so another transport can sit beside it.

Batch mode (Phase II): an 837P is submitted with `X12_837_Request_005010X222A1` and the answer
only confirms receipt (`X12_Response_ConfirmReceiptReceived`); its 999 is fetched later with
`X12_999_RetrievalRequest_005010X231A1` (answered `X12_999_Response_005010X231A1`, or
`X12_TA1_Response_00501X231A1` when the interchange was refused) and its 277CA with
`X12_005010_Request_Batch_Results_277` (answered `X12_005010_Response_Batch_Results_277`);
`X12_NoBatchAckFile` / `X12_NoBatchResultsFile` when there is none. A retrieval's Payload is the
submission's PayloadID. Every batch request carries `PayloadLength` (bytes of the UTF-8 payload)
and `CheckSum` (its SHA-1, hex), checked: `PayloadLengthIllegal`, `CheckSumIllegal`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from infra import shifted_clock as clock

CORE_RULE_VERSION = "2.2.0"
REALTIME = "RealTime"
BATCH = "Batch"
REQUEST_270 = "X12_270_Request_005010X279A1"
RESPONSE_271 = "X12_271_Response_005010X279A1"
SUBMIT_837 = "X12_837_Request_005010X222A1"
RECEIPT = "X12_Response_ConfirmReceiptReceived"
RETRIEVE_999 = "X12_999_RetrievalRequest_005010X231A1"
RESPONSE_999 = "X12_999_Response_005010X231A1"
RESPONSE_TA1 = "X12_TA1_Response_00501X231A1"
NO_ACK = "X12_NoBatchAckFile"
RETRIEVE_277 = "X12_005010_Request_Batch_Results_277"
RESPONSE_277 = "X12_005010_Response_Batch_Results_277"
NO_RESULTS = "X12_NoBatchResultsFile"
# 835 retrieval (ERA): the names CORE's Phase III ERA rule is understood to use, to be confirmed
# against the rule text. The request's Payload is a cursor: "0", or the ISA13 of the last 835
# the client holds; the answer is the next 835 after it, or NO_RESULTS.
REQUEST_835 = "X12_835_Request_005010X221A1"
RESPONSE_835 = "X12_835_Response_005010X221A1"
ENVELOPE_ERROR = "CoreEnvelopeError"
# The processing mode each request type is accepted in.
MODES = {REQUEST_270: REALTIME, SUBMIT_837: BATCH, RETRIEVE_999: BATCH, RETRIEVE_277: BATCH,
         REQUEST_835: BATCH}  # fmt: skip
REQUIRED = (
    "PayloadType", "ProcessingMode", "PayloadID", "TimeStamp", "SenderID", "ReceiverID",
    "CORERuleVersion", "Payload",
)  # fmt: skip
RESPONSE_ORDER = (
    "PayloadType", "ProcessingMode", "PayloadID", "PayloadLength", "TimeStamp", "SenderID",
    "ReceiverID", "CORERuleVersion", "CheckSum", "Payload", "ErrorCode", "ErrorMessage",
)  # fmt: skip


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    sender_id: str  # the submitter these credentials belong to
    receiver_id: str  # this clearinghouse


@dataclass(frozen=True)
class EnvelopeError(Exception):
    code: str
    message: str
    status: int = 400


def now_stamp() -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp_ok(value: str) -> bool:
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return stamp.tzinfo is not None


def checksum(payload: str) -> str:
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()  # CORE names SHA-1


def _check_batch(fields: dict[str, str]) -> None:
    for name in ("PayloadLength", "CheckSum"):
        if not fields.get(name, "").strip():
            raise EnvelopeError(f"{name}Required", f"{name} is required in batch mode")
    payload = fields["Payload"]
    if fields["PayloadLength"].strip() != str(len(payload.encode("utf-8"))):
        raise EnvelopeError("PayloadLengthIllegal", "PayloadLength is not the payload's length")
    if fields["CheckSum"].strip().lower() != checksum(payload):
        raise EnvelopeError("CheckSumIllegal", "CheckSum is not the payload's SHA-1")


def check_request(fields: dict[str, str], creds: Credentials) -> None:  # noqa: C901  flat checks, in CORE order
    """Raise EnvelopeError for the first problem with a request envelope (real time or batch)."""
    user, password = fields.get("UserName", ""), fields.get("Password", "")
    good_user = secrets.compare_digest(user.encode(), creds.username.encode())
    good_password = secrets.compare_digest(password.encode(), creds.password.encode())
    if not (good_user and good_password):
        raise EnvelopeError("UnAuthorized", "UserName or Password is not valid", 401)
    for name in REQUIRED:
        if not fields.get(name, "").strip():
            raise EnvelopeError(f"{name}Required", f"{name} is required")
    if fields["CORERuleVersion"] != CORE_RULE_VERSION:
        raise EnvelopeError("VersionMismatch", f"CORERuleVersion must be {CORE_RULE_VERSION}")
    mode = MODES.get(fields["PayloadType"])
    if mode is None:
        raise EnvelopeError("PayloadTypeIllegal", f"PayloadType must be one of {', '.join(MODES)}")
    if fields["ProcessingMode"] != mode:
        raise EnvelopeError("ProcessingModeIllegal", f"ProcessingMode must be {mode}")
    try:
        uuid.UUID(fields["PayloadID"])
    except ValueError:
        raise EnvelopeError("PayloadIDIllegal", "PayloadID must be a UUID") from None
    if not _timestamp_ok(fields["TimeStamp"]):
        raise EnvelopeError("TimeStampIllegal", "TimeStamp must be ISO 8601 with a UTC offset")
    if fields["SenderID"] != creds.sender_id:
        raise EnvelopeError("UnAuthorized", "SenderID does not belong to these credentials", 401)
    if fields["ReceiverID"] != creds.receiver_id:
        raise EnvelopeError("ReceiverIDIllegal", f"ReceiverID must be {creds.receiver_id}")
    if mode == BATCH:
        _check_batch(fields)


def response_fields(
    request: dict[str, str], creds: Credentials, payload_type: str, payload: str,
    code: str = "Success", message: str = "",
) -> dict[str, str]:  # fmt: skip
    batch = MODES.get(request.get("PayloadType", "")) == BATCH
    answer = {
        "PayloadType": payload_type,
        "ProcessingMode": BATCH if batch else REALTIME,
        "PayloadID": request.get("PayloadID", ""),
        "TimeStamp": now_stamp(),
        "SenderID": creds.receiver_id,
        "ReceiverID": request.get("SenderID", ""),
        "CORERuleVersion": CORE_RULE_VERSION,
        "Payload": payload,
        "ErrorCode": code,
        "ErrorMessage": message,
    }
    if batch and payload:
        answer["PayloadLength"] = str(len(payload.encode("utf-8")))
        answer["CheckSum"] = checksum(payload)
    return answer


def encode_multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """multipart/form-data body and its Content-Type."""
    boundary = f"core-{uuid.uuid4().hex}"
    parts = []
    for name in RESPONSE_ORDER:
        if name not in fields:
            continue
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{fields[name]}\r\n"
        )
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


_BOUNDARY = re.compile(r';\s*boundary=("?)([0-9A-Za-z\'()+_,./:=?-]{1,70})\1\s*$', re.IGNORECASE)
_PLAIN_PART = re.compile(
    rb'Content-Disposition: form-data; name="([A-Za-z0-9_]+)"\r\n\r\n', re.IGNORECASE
)


def plain_form_fields(content_type: str, body: bytes) -> dict[str, str] | None:
    """The fields of a multipart/form-data body whose every part is a plain UTF-8 field (the
    shape CORE requests take); None for anything else (other part headers, file parts,
    transfer encodings, other line ends, a repeated name), which the framework's parser reads."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
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
        if header is None or delimiter in part or header[1].decode() in fields:
            return None
        try:
            fields[header[1].decode()] = part[header.end() :].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return fields
