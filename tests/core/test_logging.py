"""Log lines are JSON with the request id, and carry no request data."""

from __future__ import annotations

import json
import logging
import sys

import httpx
import pytest

from services.core.logging import JsonFormatter


async def test_access_line_names_the_route_template_not_the_data(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = "jane.doe.phi@example.test"
    refused = await client.get(f"/health/live?note={secret}")
    assert refused.status_code == 400  # an undeclared query parameter
    response = await client.post(
        "/auth/login", json={"email": secret, "password": "Hunter2-but-longer"}
    )
    assert response.status_code == 401
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    assert all(secret not in json.dumps(line) for line in lines)
    access = [line for line in lines if line["logger"] == "hearth.access"]
    assert access[-1]["route"] == "/auth/login"
    assert access[-1]["status"] == 401
    assert access[-1]["request_id"] == response.headers["x-request-id"]


def test_extras_outside_the_allow_list_are_dropped() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__["member_id"] = "W123456789"
    record.__dict__["route"] = "/clients/{id}"
    line = json.loads(JsonFormatter().format(record))
    assert "member_id" not in line
    assert line["route"] == "/clients/{id}"


def test_exception_lines_keep_the_type_not_the_message() -> None:
    date_of_birth = "1980-02-03"
    try:
        raise ValueError(f"date of birth {date_of_birth} is wrong")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exc_type"] == "ValueError"
    assert "1980-02-03" not in json.dumps(line)
