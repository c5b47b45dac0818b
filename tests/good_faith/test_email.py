"""The estimate's email: sent once through the outbox job to the SMTP sink, with what 45 CFR
149.610(c) asks of a Good Faith Estimate."""

from __future__ import annotations

import msgspec

from schemas.common import Address
from schemas.providers import LocationIn
from schemas.therapy_sessions import BookSessionIn
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.good_faith.notice import run_estimate_email
from services.good_faith.service import EXPECTED_SESSIONS
from services.providers.details import add_location, set_self_pay_rate
from services.therapy_sessions.service import book_session
from tests.factories import TAX_ID, future, make_client, make_ops, make_provider
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture


async def test_a_self_pay_booking_emails_one_estimate(
    committed_db: str,
    settings: Settings,
    mail_sink: MailSink,  # noqa: F811
) -> None:
    here = msgspec.structs.replace(
        settings, database_url=committed_db, smtp_host="127.0.0.1", smtp_port=mail_sink.smtp_port
    )
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        async with transaction(pool) as conn:
            ops = await make_ops(conn)
            provider = await make_provider(conn, here, ops)
            me = await make_client(conn, here, first_name="Noor")
            assert provider.provider_id is not None
            await set_self_pay_rate(conn, provider.provider_id, "90834", 14000)
            office = Address(line1="12 Elm St", city="Springfield", state="IL", zip="627011234")
            await add_location(conn, provider.provider_id,
                               LocationIn(name="Elm Street Office", place_of_service="11",
                                          address=office))  # fmt: skip
            data = BookSessionIn(
                provider_id=provider.provider_id, client_id=me.client_id, starts_at=future(10),
                duration_minutes=45, place_of_service="11",
            )  # fmt: skip
            await book_session(conn, ops, data)
            outbox_id = await conn.fetchval(
                "SELECT id FROM outbox WHERE job = 'send_good_faith_estimate'"
            )
            to = await conn.fetchval("SELECT email FROM clients WHERE id = $1", me.client_id)
        assert await run_estimate_email(pool, here, outbox_id) == "sent"
        assert await run_estimate_email(pool, here, outbox_id) == "nothing to send"
        emailed = await pool.fetchval("SELECT emailed_at FROM good_faith_estimates")
        assert emailed is not None
        audited = "SELECT count(*) FROM audit_events WHERE entity = 'good_faith_estimate'"
        assert await pool.fetchval(audited + " AND actor_role = 'system'") == 1
    finally:
        await pool.close()
    [message] = mail_sink.messages(to)
    assert message["subject"] == "Your Good Faith Estimate from Ada Lovelace"
    text = message["body"]
    for expected in (
        "Patient: Noor Lovelace, born 1990-04-01",
        f"TIN {TAX_ID}",
        "Elm Street Office, 12 Elm St, Springfield, IL 62701",
        f"{EXPECTED_SESSIONS} sessions expected",
        "90834  Psychotherapy, 45 minutes",
        f"{EXPECTED_SESSIONS} x $140.00 = $7,280.00",
        "Total expected charges: $7,280.00",
        "$400.00 or more above this estimate",
        "within 120 calendar days",
        "not a contract",
    ):
        assert expected in text, expected
