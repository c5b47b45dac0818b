"""Signup end to end over real processes: the API, the arq worker and the SMTP sink. The worker
relays the outbox row, mints the token and mails it; the mailed code verifies the address."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.core.settings import Settings
from tests.clients.helpers import signup_body
from tests.live import api_server, app_env, process
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture


@pytest.fixture
def stack(
    committed_db: str,
    settings: Settings,
    redis_namespace: str,
    mail_sink: MailSink,  # noqa: F811
    tmp_path: Path,
) -> Iterator[str]:
    env = app_env(
        committed_db,
        settings.redis_url,
        HEARTH_REDIS_NAMESPACE=f"{redis_namespace}-mail-{uuid.uuid4().hex[:6]}",
        HEARTH_SMTP_HOST="127.0.0.1",
        HEARTH_SMTP_PORT=str(mail_sink.smtp_port),
    )
    worker = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
    with api_server(env, tmp_path) as base, process(worker, env, tmp_path / "worker.log"):
        yield base


def test_the_mailed_code_verifies_and_a_second_signup_tells_the_owner(
    stack: str,
    mail_sink: MailSink,  # noqa: F811
) -> None:
    body = signup_body(first_name="Iris")
    address = body["email"]
    first = httpx.post(f"{stack}/clients/signup", json=body, timeout=10)
    assert first.status_code == 202, first.text
    [message] = mail_sink.wait_for(address)
    assert message["subject"] == "Confirm your email address for Hearth"
    assert message["body"].startswith("Hello Iris,")
    match = re.search(r"Verification code: (\S+)", message["body"])
    assert match is not None
    verified = httpx.post(f"{stack}/auth/verify-email", json={"token": match.group(1)}, timeout=10)
    assert verified.status_code == 200, verified.text
    login = {"email": address, "password": body["password"]}
    assert httpx.post(f"{stack}/auth/login", json=login, timeout=10).status_code == 200

    again = httpx.post(f"{stack}/clients/signup", json=signup_body(email=address), timeout=10)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    notice = mail_sink.wait_for(address, count=2)[1]
    assert notice["subject"] == "Someone tried to sign up with your email address"
    assert "Verification code" not in notice["body"]
