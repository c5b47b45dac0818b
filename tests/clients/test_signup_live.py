"""Signup end to end over real processes: the API, the arq worker and the SMTP sink. The worker
relays the outbox row, mints the token and mails it; the mailed code verifies the address."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from schemas.clients import SignupIn
from services.clients.signup import run_account_email, sign_up
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from tests.clients.helpers import signup_body
from tests.live import api_server, app_env, free_port, process
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
    verified = httpx.post(
        f"{stack}/auth/verify-email",
        json={"token": match.group(1), "password": body["password"]},
        timeout=10,
    )
    assert verified.status_code == 200, verified.text
    login = {"email": address, "password": body["password"]}
    assert httpx.post(f"{stack}/auth/login", json=login, timeout=10).status_code == 200

    again = httpx.post(f"{stack}/clients/signup", json=signup_body(email=address), timeout=10)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    notice = mail_sink.wait_for(address, count=2)[1]
    assert notice["subject"] == "Someone tried to sign up with your email address"
    assert "Verification code" not in notice["body"]


async def test_a_refused_send_is_tried_again_later_and_then_sent(
    committed_db: str,
    settings: Settings,
    mail_sink: MailSink,  # noqa: F811
    redis: Redis,
) -> None:
    """The SMTP server is down: the row is handed back with its error, nothing is lost; once
    the server answers, the same row's email goes out and the row completes."""
    here = msgspec.structs.replace(settings, database_url=committed_db)
    body = msgspec.convert(signup_body(first_name="Noor"), SignupIn)
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        async with transaction(pool) as conn:
            await sign_up(conn, redis, here, body, "192.0.2.50")
            outbox_id = await conn.fetchval(
                "SELECT id FROM outbox WHERE job = 'send_account_email'"
            )
        down = msgspec.structs.replace(here, smtp_port=free_port(), smtp_timeout_s=2)
        assert await run_account_email(pool, down, outbox_id) == (
            "mail server unavailable; retrying later"
        )
        row = await pool.fetchrow(
            "SELECT completed_at, last_error, available_at > now() AS later FROM outbox"
            " WHERE id = $1",
            outbox_id,
        )
        assert row["completed_at"] is None
        assert row["later"]
        assert row["last_error"].startswith("ConnectionRefusedError")
        assert body.email not in row["last_error"]
        up = msgspec.structs.replace(here, smtp_port=mail_sink.smtp_port)
        assert await run_account_email(pool, up, outbox_id) == "sent"
        assert await run_account_email(pool, up, outbox_id) == "nothing to send"
        done = await pool.fetchval("SELECT completed_at FROM outbox WHERE id = $1", outbox_id)
        assert done is not None
    finally:
        await pool.close()
    [message] = mail_sink.messages(body.email)
    assert message["body"].startswith("Hello Noor,")
