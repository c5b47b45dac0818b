"""The monthly superbill email: queued once per opted-in client with a self-pay or
out-of-network session last month (a second cron run queues nothing), never for a client who
did not opt in or opted out, sent over SMTP with the PDF attached and then done."""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from services.core import mail, outbox
from services.core.clock import Clock
from services.superbills.emails import prepare_superbill_email, queue_monthly_superbills
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments import world as w
from tests.superbills.helpers import month_of_now, pdf_text, self_pay
from tests.therapy_sessions.completion import Visit

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def _choose(c: w.Charging, visit: Visit, monthly_email: bool) -> None:
    url = f"/clients/{visit.client.client_id}/superbill-preferences"
    response = await c.api.put(url, json={"monthly_email": monthly_email},
                               headers=c.token(visit.client))  # fmt: skip
    assert response.status_code == 200, response.text


def _next_month(clock: Clock, tz: str) -> None:
    """The clock moved to noon on the 1st of next month, in the time zone."""
    local = clock.now().astimezone(ZoneInfo(tz)).date()
    first = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    clock.freeze(datetime.combine(first, time(12), tzinfo=ZoneInfo(tz)))


async def _rows(c: w.Charging, visit: Visit) -> list[int]:
    rows = await c.db.fetch(
        "SELECT id FROM outbox WHERE job = 'send_superbill_email'"
        " AND payload->>'client_id' = $1 ORDER BY id",
        str(visit.client.client_id),
    )
    return [r["id"] for r in rows]


async def test_the_monthly_superbill_is_sent_once_to_those_who_opted_in(
    charging: w.Charging, clock: Clock, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    c = charging
    tz = c.settings.statement_time_zone
    opted_in, never, opted_out = [await self_pay(c) for _ in range(3)]
    await _choose(c, opted_in, True)
    await _choose(c, opted_out, True)
    await _choose(c, opted_out, False)
    month = month_of_now(tz)
    _next_month(clock, tz)

    assert await queue_monthly_superbills(c.db, c.settings) == 1
    assert await queue_monthly_superbills(c.db, c.settings) == 0  # a second run: nothing
    (row,) = await _rows(c, opted_in)
    assert await _rows(c, never) == []
    assert await _rows(c, opted_out) == []

    message = await prepare_superbill_email(c.db, c.settings, row)
    assert message is not None
    assert message.subject == f"Your superbill for {month}"
    assert "$190.00 paid" in message.body
    sink = msgspec.structs.replace(c.settings, smtp_port=mail_sink.smtp_port)
    await mail.send(sink, message)
    (delivered,) = mail_sink.wait_for(message.to)
    assert delivered["subject"] == message.subject
    assert "superbill" in delivered["body"]
    (attached,) = delivered["attachments"]
    assert (attached["filename"], attached["content_type"]) == (
        f"superbill-{month}.pdf",
        "application/pdf",
    )
    text = pdf_text(base64.b64decode(attached["data_base64"]))
    npi = await c.db.fetchval(
        "SELECT npi FROM providers WHERE id = $1", opted_in.provider.provider_id
    )
    for expected in (npi, "90837", "F41.1", "$190.00"):
        assert expected in text, expected
    await outbox.complete(c.db, row)
    # Done: the row is not sent again, and the month is never queued again for the client.
    assert await prepare_superbill_email(c.db, c.settings, row) is None
    assert await queue_monthly_superbills(c.db, c.settings) == 0
    assert await _rows(c, opted_in) == [row]


async def test_a_client_who_opts_out_after_queueing_gets_nothing(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    visit = await self_pay(c)
    await _choose(c, visit, True)
    _next_month(clock, c.settings.statement_time_zone)
    assert await queue_monthly_superbills(c.db, c.settings) == 1
    (row,) = await _rows(c, visit)
    await _choose(c, visit, False)
    assert await prepare_superbill_email(c.db, c.settings, row) is None
    done = await c.db.fetchval("SELECT completed_at FROM outbox WHERE id = $1", row)
    assert done is not None


async def test_a_month_without_sessions_queues_nothing(charging: w.Charging, clock: Clock) -> None:
    c = charging
    visit = await self_pay(c)
    await _choose(c, visit, True)
    _next_month(clock, c.settings.statement_time_zone)
    _next_month(clock, c.settings.statement_time_zone)  # the month after the session's
    assert await queue_monthly_superbills(c.db, c.settings) == 0
    assert await _rows(c, visit) == []


async def test_december_is_queued_in_january(charging: w.Charging, clock: Clock) -> None:
    """The month before January is last year's December (the clock named: 30 December)."""
    c = charging
    clock.freeze(datetime(clock.now().year, 12, 30, 20, 0, tzinfo=ZoneInfo("UTC")))
    visit = await self_pay(c)
    await _choose(c, visit, True)
    december = month_of_now(c.settings.statement_time_zone)
    assert december.endswith("-12")
    _next_month(clock, c.settings.statement_time_zone)
    assert await queue_monthly_superbills(c.db, c.settings) == 1
    (row,) = await _rows(c, visit)
    message = await prepare_superbill_email(c.db, c.settings, row)
    assert message is not None
    assert message.subject == f"Your superbill for {december}"
