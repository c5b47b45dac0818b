"""Upstream error text reaches ops and the logs, not other callers; the logs never hold a 271
value that could be a person's data (issue 12, item 3k). The clearinghouse's own refusal is
tested against the simulator in test_checks_guarded.py."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from services.clearinghouse.errors import ClearinghouseError
from services.core.auth import Actor
from services.core.logging import JsonFormatter
from services.eligibility import service

FIXTURES = Path(__file__).parent / "fixtures"
OPS = Actor(user_id=uuid.uuid4(), role="ops")
PROVIDER = Actor(user_id=uuid.uuid4(), role="provider", provider_id=uuid.uuid4())
CLIENT = Actor(user_id=uuid.uuid4(), role="client", client_id=uuid.uuid4())
# A value in the 271 that the parser refuses and quotes: it could be anyone's data.
LEAK = "CASEYMORGAN19850930"


def _unusable_271() -> str:
    text = (FIXTURES / "casey_coinsurance.x12").read_text()
    bad = text.replace("EB*C*IND*MH***23*750*****Y", f"EB*C*IND*MH***23*{LEAK}*****Y")
    assert bad != text
    return bad


def _failure(caplog: pytest.LogCaptureFixture, actor: Actor) -> tuple[Exception, str]:
    with pytest.raises(ClearinghouseError) as caught:
        service._parse(_unusable_271(), "TR-CASEY")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="services.eligibility.service"):
        shown = service._upstream_failure(caught.value, actor, uuid.uuid4())
    lines = [JsonFormatter().format(r) for r in caplog.records]
    return shown, "\n".join(lines)


@pytest.mark.parametrize("actor", [PROVIDER, CLIENT])
def test_a_271_parse_error_is_plain_for_providers_and_clients(
    caplog: pytest.LogCaptureFixture, actor: Actor
) -> None:
    shown, _ = _failure(caplog, actor)
    assert isinstance(shown, ClearinghouseError)
    assert shown.status == 502
    assert shown.detail == service.UPSTREAM_PLAIN
    assert LEAK not in str(shown)


def test_ops_keep_the_parse_error_and_the_log_says_where_not_what(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shown, logged = _failure(caplog, OPS)
    assert isinstance(shown, ClearinghouseError)
    assert LEAK in shown.detail  # ops see what the 271 said
    assert '"x12_at": "EB (segment' in logged  # the segment and its position ...
    assert "payload_id" in logged
    assert LEAK not in logged  # ... never the value
