"""The statement before a true-up charge (DESIGN.md "Charging clients"): the notice is queued
once with the charge, says what the insurer decided, what will be charged, to which card and
when, and the charge's outbox row is handed out only after the notice period (injected
clock); a true-up left a balance due says so. Monthly statements: queued once per client with
activity in the month."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
import stripe

from schemas.ledger import AccountRef, EntryIn, Line
from services.core import mail, outbox
from services.core.clock import Clock
from services.core.db import create_pool, transaction
from services.core.settings import Settings
from services.ledger.service import post_entry
from services.payments.charges import charge_client
from services.payments.gateway import StripeGateway
from services.payments.statement_emails import (
    prepare_statement_email,
    queue_monthly_statements,
    send_statement_email,
)
from services.payments.true_ups import settle_true_up_on
from tests.factories import make_ops, make_payer, make_provider_actor
from tests.mailsink import MailSink, mail_sink  # noqa: F401 - the sink fixture
from tests.payments import world as w
from tests.payments.test_true_up_concurrency import OWES_MORE as OWES_MORE_835
from tests.payments.test_true_up_concurrency import _billed_with_card
from tests.payments.test_true_ups import OWES_MORE, _billed_and_charged
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t
from tests.remittance.billed import bill

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]

NOTICE = timedelta(days=7)


async def _due(db: asyncpg.Connection, now: datetime) -> set[int]:
    """The outbox rows the relay would hand out at `now`."""
    return {row.id for row in await outbox.lock_due(db, now, 90, 1000)}


async def _email(db: asyncpg.Connection, client_id: object) -> str:
    address: str = await db.fetchval("SELECT email FROM clients WHERE id = $1", client_id)
    return address


async def test_the_notice_comes_once_and_the_charge_after_the_notice_period(
    charging: w.Charging, clock: Clock, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    c = charging
    claimed = await _billed_and_charged(c)
    clock.advance(timedelta(days=20))
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    settled_at = clock.now()
    assert [await settle_true_up_on(c.db, r["id"], NOTICE) for r in await t.settle_rows(c.db)] == [
        "charging"
    ]
    (notice_row,) = await w.open_outbox(c.db, "send_statement_email")
    (charge_row,) = await w.open_outbox(c.db, "charge_client")
    assert notice_row in await _due(c.db, clock.now())
    clock.advance(NOTICE - timedelta(seconds=1))
    assert charge_row not in await _due(c.db, clock.now())
    clock.advance(timedelta(seconds=1))
    assert charge_row in await _due(c.db, clock.now())

    message = await prepare_statement_email(c.db, c.settings, notice_row)
    assert message is not None
    day = (settled_at + NOTICE).astimezone(ZoneInfo(c.settings.statement_time_zone)).date()
    assert message.to == await _email(c.db, claimed.billed.client_id)
    assert "$70.00" in message.subject
    assert f"We will charge $70.00 to your Visa card ending 4242 on {day.isoformat()}" in (
        message.body
    )
    assert "What they decided: the 835's patient responsibility is $90.00" in message.body
    sink_settings = msgspec.structs.replace(c.settings, smtp_port=mail_sink.smtp_port)
    await mail.send(sink_settings, message)
    (delivered,) = mail_sink.wait_for(message.to)
    assert "$70.00" in str(delivered)
    await outbox.complete(c.db, notice_row)
    # Sent once: the row is done, and nothing settles the true-up (nor notifies) again.
    assert await prepare_statement_email(c.db, c.settings, notice_row) is None
    assert await t.settle_rows(c.db) == []
    assert await w.open_outbox(c.db, "send_statement_email") == []

    assert await charge_client(c.tx, c.gateway, charge_row) == "succeeded"
    (charge,) = await w.charges_of(c.db, (await t.true_ups(c.db, claimed.billed))[0]["id"])
    assert (charge["status"], charge["amount_cents"]) == ("succeeded", OWES_MORE)


async def test_a_true_up_without_a_card_is_a_balance_due_and_says_so(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    billed = await bill(c.db, (await make_payer(c.db)).id, await make_provider_actor(c.db))
    ops = await make_ops(c.db)
    clock.advance(timedelta(days=20))
    await t.post(c.db, ops, f.transaction(t.ours(f.PARTLY_PAID, billed, "2"), paid="30"))
    assert [await settle_true_up_on(c.db, r["id"], NOTICE) for r in await t.settle_rows(c.db)] == [
        "balance_due"
    ]
    assert await w.open_outbox(c.db, "charge_client") == []
    (notice_row,) = await w.open_outbox(c.db, "send_statement_email")
    message = await prepare_statement_email(c.db, c.settings, notice_row)
    assert message is not None
    assert "$70.00 is now due on your account. No card is charged" in message.body


async def test_monthly_statements_are_queued_once_per_client_with_activity(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    clock.freeze(datetime(2026, 12, 20, 18, 0, tzinfo=UTC))
    claimed = await _billed_and_charged(c)  # December's activity
    client_id = claimed.billed.client_id
    clock.freeze(datetime(2027, 1, 1, 18, 0, tzinfo=UTC))  # January 1st in Los Angeles too
    assert await queue_monthly_statements(c.db, c.settings) >= 1
    assert await queue_monthly_statements(c.db, c.settings) == 0  # a second run: nothing
    rows = await c.db.fetch(
        "SELECT id FROM outbox WHERE job = 'send_statement_email' AND payload->>'client_id' = $1",
        str(client_id),
    )
    assert len(rows) == 1
    message = await prepare_statement_email(c.db, c.settings, rows[0]["id"])
    assert message is not None
    assert message.subject == "Your Hearth statement for 2026-12"
    assert "Closing balance" in message.body
    assert "$20.00" in message.body
    queued = await c.db.fetchval(
        "SELECT month FROM client_statement_emails WHERE client_id = $1", client_id
    )
    assert f"{queued:%Y-%m-%d}" == "2026-12-01"


async def _credit(db: asyncpg.Connection, client_id: uuid.UUID, cents: int) -> None:
    """A credit the client holds (as a refund that failed after it succeeded leaves one)."""
    receivable = AccountRef(kind="client_receivable", owner_id=client_id)
    await post_entry(
        db,
        EntryIn(
            kind="refund_failed", idempotency_key=f"test-credit-{uuid.uuid4()}",
            source_table="client_refunds", source_id=uuid.uuid4(),
            lines=(
                Line(account=receivable, side="credit", amount_cents=cents),
                Line(account=AccountRef(kind="stripe_balance"), side="debit", amount_cents=cents),
            ),
        ),
    )  # fmt: skip


CREDITS = [(2000, "charging", OWES_MORE - 2000), (9000, "settled by credit", None)]


@pytest.mark.parametrize(("credit", "outcome", "charged"), CREDITS)
async def test_a_credit_first_settles_what_a_true_up_asks(
    charging: w.Charging, clock: Clock, credit: int, outcome: str, charged: int | None
) -> None:
    c = charging
    claimed = await _billed_and_charged(c)
    await _credit(c.db, claimed.billed.client_id, credit)
    clock.advance(timedelta(days=20))
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    assert [await settle_true_up_on(c.db, r["id"], NOTICE) for r in await t.settle_rows(c.db)] == [
        outcome
    ]
    (true_up,) = await t.true_ups(c.db, claimed.billed)
    charges = await w.charges_of(c.db, true_up["id"])
    if charged is None:
        assert charges == []
        assert true_up["status"] == "closed"
        assert await w.open_outbox(c.db, "send_statement_email") == []
        return
    assert [x["amount_cents"] for x in charges] == [charged]
    (notice_row,) = await w.open_outbox(c.db, "send_statement_email")
    message = await prepare_statement_email(c.db, c.settings, notice_row)
    assert message is not None
    assert "We will charge $50.00 ($70.00 less your credit of $20.00)" in message.body


async def test_the_notice_job_sends_once_through_smtp(
    committed_db: str, gateway: StripeGateway, stripe_client: stripe.StripeClient,
    settings: Settings, mail_sink: MailSink,  # noqa: F811
) -> None:  # fmt: skip
    pool = await create_pool(committed_db, min_size=1, max_size=2)
    try:
        billed = await _billed_with_card(pool, gateway, stripe_client, settings, OWES_MORE_835)
        async with transaction(pool) as conn:
            (row,) = await w.open_outbox(conn, "send_statement_email")
            to = await _email(conn, billed.client_id)
        sink = msgspec.structs.replace(settings, smtp_port=mail_sink.smtp_port)
        before = len(mail_sink.messages(to))  # the sink is shared: an address may recur
        assert await send_statement_email(pool, sink, row) == "sent"
        assert await send_statement_email(pool, sink, row) == "nothing to send"
        delivered = mail_sink.wait_for(to, count=before + 1)
        assert len(delivered) == before + 1
        assert "We will charge $70.00" in str(delivered[-1])
    finally:
        await pool.close()
