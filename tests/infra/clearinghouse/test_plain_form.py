"""The simulator reads plain CORE form fields itself, and leaves any other shape to Litestar."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from litestar._multipart import parse_multipart_form

from infra.clearinghouse.caqh_core import plain_form_fields

BOUNDARY = "core-" + uuid.uuid4().hex
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _body(*parts: tuple[str, str], head: str = "") -> bytes:
    text = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n{head}\r\n{value}\r\n'
        for name, value in parts
    )
    return (text + f"--{BOUNDARY}--\r\n").encode()


async def _litestar(body: bytes) -> dict[str, str]:
    async def stream() -> AsyncIterator[bytes]:
        yield body
        yield b""

    form = await parse_multipart_form(
        stream=stream(), boundary=BOUNDARY.encode(), multipart_form_part_limit=100
    )
    return {name: str(value) for name, value in form.items()}


async def test_plain_fields_read_as_litestar_reads_them() -> None:
    parts = (
        ("PayloadType", "X12_270_Request_005010X279A1"),
        ("PayloadID", str(uuid.uuid4())),
        ("Payload", "ISA*00*          *00*~\r\nGS*HS~\nSE*3*0001~"),  # line ends inside a value
        ("Empty", ""),
        ("Name", "Zoë Ñúñez"),
    )
    body = _body(*parts)
    assert plain_form_fields(CONTENT_TYPE, body) == dict(parts) == await _litestar(body)
    quoted = f'multipart/form-data; boundary="{BOUNDARY}"'
    assert plain_form_fields(quoted, body) == dict(parts)


def test_other_shapes_are_left_to_the_framework() -> None:
    plain = _body(("A", "1"))
    assert plain_form_fields(CONTENT_TYPE, plain) == {"A": "1"}
    assert plain_form_fields("application/x-www-form-urlencoded", b"A=1") is None
    assert plain_form_fields("multipart/form-data", plain) is None  # no boundary
    assert plain_form_fields(CONTENT_TYPE, _body(("A", "1"), ("A", "2"))) is None
    file_part = _body(("A", "1"), head="Content-Type: application/octet-stream\r\n")
    assert plain_form_fields(CONTENT_TYPE, file_part) is None
    assert plain_form_fields(CONTENT_TYPE, plain.replace(b"\r\n", b"\n")) is None
    assert plain_form_fields(CONTENT_TYPE, plain[:-4]) is None  # cut short
    assert plain_form_fields(CONTENT_TYPE, _body(("A", "1")).replace(b"1", b"\xff")) is None
