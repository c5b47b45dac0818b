"""The superbill email job over committed data: sent once through SMTP (a second run of the
row sends nothing), audited as the system's read, and the worker runs the job and the cron."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from schemas.superbills import SuperbillEmailJob, SuperbillPreferencesIn
from schemas.therapy_sessions import CompleteSessionIn
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.superbills.emails import queue_monthly_superbills, send_superbill_email
from services.superbills.service import set_preferences
from services.therapy_sessions.completion import complete_session
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.therapy_sessions.completion import arrange, completion_body

pytestmark = pytest.mark.usefixtures("clock")


async def test_the_job_sends_once_with_the_pdf(
    committed_db: str, settings: Settings, clock: Clock, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    here = msgspec.structs.replace(
        settings, database_url=committed_db, smtp_host="127.0.0.1", smtp_port=mail_sink.smtp_port
    )
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        async with transaction(pool) as conn:
            visit = await arrange(conn, here, insured=False)
            data = msgspec.convert(completion_body(), CompleteSessionIn)
            await complete_session(conn, here, visit.provider, visit.session.id, data)
            assert visit.client.client_id is not None
            choice = SuperbillPreferencesIn(monthly_email=True)
            await set_preferences(conn, visit.client, visit.client.client_id, choice)
            to = await conn.fetchval(
                "SELECT email FROM clients WHERE id = $1", visit.client.client_id
            )
        tz = ZoneInfo(here.statement_time_zone)
        first = (clock.now().astimezone(tz).date().replace(day=1) + timedelta(days=32)).replace(
            day=1
        )
        clock.freeze(datetime.combine(first, time(12), tzinfo=tz))
        async with transaction(pool) as conn:
            assert await queue_monthly_superbills(conn, here) == 1
            outbox_id = await conn.fetchval(
                "SELECT id FROM outbox WHERE job = 'send_superbill_email'"
            )
        assert await send_superbill_email(pool, here, outbox_id) == "sent"
        assert await send_superbill_email(pool, here, outbox_id) == "nothing to send"
        audited = (
            "SELECT count(*) FROM audit_events WHERE entity = 'superbill' AND actor_role = 'system'"
        )
        assert await pool.fetchval(audited) == 1
    finally:
        await pool.close()
    [message] = mail_sink.messages(to)
    [attached] = message["attachments"]
    assert attached["content_type"] == "application/pdf"
    assert attached["size"] > 1000


def test_the_worker_runs_the_job_and_the_cron(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_ENV", "test")
    from workers.settings import WorkerSettings

    functions = {getattr(f, "name", None) or f.__name__ for f in WorkerSettings.functions}
    assert SuperbillEmailJob.job in functions
    crons = {c.name for c in WorkerSettings.cron_jobs}
    assert any("queue_monthly_superbills" in name for name in crons)
