"""The balance-due email through the outbox and the SMTP sink: one per failure, with the
amount, what it was for in plain words and the link to pay on-session; an authentication
requirement is never retried."""

from __future__ import annotations

import msgspec
import pytest

from services.core import clock
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments import recovery_world as r
from tests.payments import world as w

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def _address(c: w.Charging, charge: dict[str, object]) -> str:
    address: str = await c.db.fetchval(
        "SELECT email FROM clients WHERE id = $1", charge["client_id"]
    )
    return address


async def test_authentication_required_mails_a_link_and_is_never_retried(
    charging: w.Charging,
    mail_sink: MailSink,  # noqa: F811
) -> None:
    c = charging
    settings = msgspec.structs.replace(c.settings, smtp_port=mail_sink.smtp_port)
    charge = await r.declined(c, "authentication_required")
    assert await r.follow_ups(c) == ["authentication decline"]
    assert await r.notices(c, settings) == ["sent"]
    assert await r.notices(c, settings) == []  # one email for the failure
    (message,) = mail_sink.wait_for(await _address(c, charge))
    text = str(message)
    assert f"{settings.app_url}/pay/{charge['id']}" in text
    assert "$190.00" in text
    assert "therapy session on" in text
    assert "F41" not in text  # no diagnosis code
    assert "90837" not in text  # nor the procedure's
    for _ in range(10):
        clock.CLOCK.advance(r.DAY)
        assert await r.retries(c) == []
    assert await r.open_jobs(c.db, "retry_charge") == 0
    assert await r.attempts(c.db, charge["id"]) == [(0, "declined")]


async def test_a_soft_decline_mails_its_retry_days_once(
    charging: w.Charging,
    mail_sink: MailSink,  # noqa: F811
) -> None:
    c = charging
    settings = msgspec.structs.replace(c.settings, smtp_port=mail_sink.smtp_port)
    charge = await r.declined(c, "insufficient_funds")
    assert await r.follow_ups(c) == ["soft decline"]
    assert await r.follow_ups(c) == []
    assert await r.notices(c, settings) == ["sent"]
    (message,) = mail_sink.wait_for(await _address(c, charge))
    first_retry = clock.now() + r.DAY
    assert f"{first_retry:%B %-d}" in str(message)
    assert f"/pay/{charge['id']}" in str(message)
