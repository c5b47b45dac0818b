"""The client's money in words (issue 17 item 7): charges, refunds, balance and the monthly
statement read from the ledger, reconciled with it (closing - opening = Σ the month's lines,
one month's closing the next one's opening, also across a year end and the time zone's
midnight); ops' failed payments and balances due; paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from schemas.ledger import AccountRef
from services.core.auth import Actor
from services.core.clock import Clock
from services.core.settings import Settings
from services.ledger import service as ledger
from services.payments import service
from services.payments.true_ups import settle_true_up_on
from tests.factories import make_client
from tests.payments import recovery_world as r
from tests.payments import world as w
from tests.payments.test_true_ups import ESTIMATE, OWES_MORE, _billed_and_charged, _denied
from tests.remittance import fixtures as f
from tests.remittance import true_ups as t

pytestmark = [
    pytest.mark.usefixtures("clock"),
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


async def client_actor(db: asyncpg.Connection, client_id: uuid.UUID) -> Actor:
    user_id = await db.fetchval("SELECT user_id FROM clients WHERE id = $1", client_id)
    return Actor(user_id=user_id, role="client", client_id=client_id)


async def get(c: w.Charging, who: Actor, path: str) -> Any:
    response = await c.api.get(path, headers=c.token(who))
    assert response.status_code == 200, response.text
    return response.json()


async def receivable(db: asyncpg.Connection, client_id: uuid.UUID) -> int:
    account = AccountRef(kind="client_receivable", owner_id=client_id)
    return (await ledger.get_account_balance(db, account)).balance_cents


async def receivable_before(db: asyncpg.Connection, client_id: uuid.UUID, at: datetime) -> int:
    """Straight from the journal, not through the statement's own query."""
    total: int = await db.fetchval(
        """
        SELECT coalesce(sum(CASE WHEN l.side = 'debit' THEN l.amount_cents
                                 ELSE -l.amount_cents END), 0)::bigint
        FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
        JOIN ledger_accounts a ON a.id = l.account_id
        WHERE a.kind = 'client_receivable' AND a.owner_id = $1 AND e.occurred_at < $2
        """,
        client_id,
        at,
    )
    return total


def reconciles(statement: dict[str, Any]) -> None:
    lines = sum(line["amount_cents"] for line in statement["lines"])
    totals = sum(statement["totals"].values())
    moved = statement["closing_balance_cents"] - statement["opening_balance_cents"]
    assert lines == totals == moved, statement


async def _settle(db: asyncpg.Connection, notice: timedelta = timedelta(0)) -> list[str]:
    return [await settle_true_up_on(db, row["id"], notice) for row in await t.settle_rows(db)]


async def test_statements_reconcile_with_the_ledger_month_to_month(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    clock.freeze(datetime(2026, 10, 20, 18, 0, tzinfo=UTC))
    claimed = await _billed_and_charged(c)  # October: the estimate, charged at completion
    client_id = claimed.billed.client_id
    clock.freeze(datetime(2026, 11, 10, 18, 0, tzinfo=UTC))
    body = f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"), paid="30")
    await t.post(c.db, claimed.ops, body)  # November: the insurer says $70.00 more
    assert await _settle(c.db) == ["charging"]
    assert await w.run_charges(c.db, c.tx, c.gateway) == ["succeeded"]
    who = await client_actor(c.db, client_id)
    october = await get(c, who, f"/clients/{client_id}/statements/2026-10")
    november = await get(c, who, f"/clients/{client_id}/statements/2026-11")
    for statement in (october, november):
        reconciles(statement)
        start = datetime.fromisoformat(statement["period_start"])
        end = datetime.fromisoformat(statement["period_end"])
        assert statement["opening_balance_cents"] == await receivable_before(c.db, client_id, start)
        assert statement["closing_balance_cents"] == await receivable_before(c.db, client_id, end)
    assert october["closing_balance_cents"] == november["opening_balance_cents"] == 0
    assert november["closing_balance_cents"] == await receivable(c.db, client_id) == 0
    assert [(x["kind"], x["amount_cents"]) for x in october["lines"]] == [
        ("session", ESTIMATE), ("payment", -ESTIMATE),
    ]  # fmt: skip
    assert [(x["kind"], x["amount_cents"]) for x in november["lines"]] == [
        ("insurer", OWES_MORE), ("payment", -OWES_MORE),
    ]  # fmt: skip
    insurer, payment = november["lines"]
    assert "your insurer's decision: the 835's patient responsibility" in insurer["description"]
    assert "Visa ending 4242" in payment["description"]
    (session,) = november["sessions"]
    assert (session["insurer_adjustment_cents"], session["paid_cents"]) == (OWES_MORE, -OWES_MORE)
    assert session["provider_name"]
    assert session["session_date"]
    assert insurer["description"].startswith(f"Session on {session['session_date']} with ")
    assert october["time_zone"] == "America/Los_Angeles"


async def test_a_month_is_the_platform_time_zone_s_across_a_year_end(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    # 04:00 UTC on 1 January is still 31 December in Los Angeles: December's statement.
    clock.freeze(datetime(2027, 1, 1, 4, 0, tzinfo=UTC))
    claimed = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    client_id = claimed.billed.client_id
    clock.freeze(datetime(2027, 1, 2, 12, 0, tzinfo=UTC))
    await _denied(c, claimed)  # January: the denial takes the balance due away
    assert await _settle(c.db) == ["balance reduced (refunded)"]
    december = await get(c, claimed.ops, f"/clients/{client_id}/statements/2026-12")
    january = await get(c, claimed.ops, f"/clients/{client_id}/statements/2027-01")
    reconciles(december)
    reconciles(january)
    assert december["period_start"] == "2026-12-01T00:00:00-08:00"
    assert december["period_end"] == january["period_start"] == "2027-01-01T00:00:00-08:00"
    assert december["closing_balance_cents"] == ESTIMATE  # the declined estimate, owed
    assert january["opening_balance_cents"] == ESTIMATE
    assert january["closing_balance_cents"] == await receivable(c.db, client_id) == 0
    assert [x["kind"] for x in december["lines"]] == ["session"]
    assert [(x["kind"], x["amount_cents"]) for x in january["lines"]] == [("insurer", -ESTIMATE)]


async def test_the_balance_splits_the_ledger_s_receivable(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    claimed = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    clock.advance(timedelta(days=20))  # the 835 comes weeks later
    client_id = claimed.billed.client_id
    who = await client_actor(c.db, client_id)
    balance = await get(c, who, f"/clients/{client_id}/balance")
    assert balance["balance_cents"] == await receivable(c.db, client_id) == ESTIMATE
    assert (balance["owed_now_cents"], balance["being_charged_cents"]) == (ESTIMATE, 0)
    assert (balance["credit_cents"], balance["written_off_cents"]) == (0, 0)
    assert balance["oldest_due_at"] is not None
    # The insurer asks $70.00 more: charged after the notice, so being charged meanwhile.
    await t.post(c.db, claimed.ops, f.transaction(t.ours(f.PARTLY_PAID, claimed.billed, "2"),
                                                  paid="30"))  # fmt: skip
    await _settle(c.db, timedelta(days=7))
    balance = await get(c, who, f"/clients/{client_id}/balance")
    assert balance["balance_cents"] == ESTIMATE + OWES_MORE
    assert (balance["owed_now_cents"], balance["being_charged_cents"]) == (ESTIMATE, OWES_MORE)
    (charges, _) = (await get(c, who, f"/clients/{client_id}/charges")).values()
    assert [(x["kind"], x["status"]) for x in charges] == [
        ("true_up", "pending"), ("completion", "failed"),
    ]  # fmt: skip
    true_up, completion = charges
    assert true_up["true_up_reason"]
    assert "after your insurer's decision" in true_up["what_for"]
    assert completion["failure"] == "the card was declined"
    assert (completion["card_brand"], completion["card_last4"]) == ("visa", "0341")
    assert completion["what_for"].startswith(f"Session on {completion['session_date']} with ")


async def test_refunds_are_listed_in_words(charging: w.Charging) -> None:
    c = charging
    claimed = await _denied(c, await _billed_and_charged(c))
    await _settle(c.db)
    assert await w.run_refunds(c.db, c.tx, c.gateway) == ["refunded"]
    client_id = claimed.billed.client_id
    page = await get(c, await client_actor(c.db, client_id), f"/clients/{client_id}/refunds")
    (refund,) = page["items"]
    assert (refund["amount_cents"], refund["status"], refund["to_card"]) == (
        ESTIMATE, "succeeded", True,
    )  # fmt: skip
    assert refund["reason"]
    assert refund["what_for"].endswith(": refund to your card")
    assert page["next_cursor"] is None


async def test_ops_see_failed_payments_and_balances_due_oldest_first(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    first = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    clock.advance(timedelta(hours=1))
    second = await _billed_and_charged(c, w.DECLINES_WHEN_CHARGED)
    paid = await _billed_and_charged(c)
    ops = first.ops
    failed = await get(c, ops, "/payments/failed?status=failed&kind=completion")
    ours = [x for x in failed["items"] if x["client_id"] in
            (str(first.billed.client_id), str(second.billed.client_id))]  # fmt: skip
    assert [x["client_id"] for x in ours] == [
        str(first.billed.client_id), str(second.billed.client_id),
    ]  # fmt: skip
    assert {x["failure"] for x in ours} == {"the card was declined"}
    assert str(paid.billed.client_id) not in {x["client_id"] for x in failed["items"]}
    code = await get(c, ops, "/payments/failed?code=no_such_code")
    assert code["items"] == []
    due = await get(c, ops, "/payments/balances-due")
    listed = [x["client_id"] for x in due["items"]]
    assert listed.index(str(first.billed.client_id)) < listed.index(str(second.billed.client_id))
    assert str(paid.billed.client_id) not in listed
    row = due["items"][listed.index(str(first.billed.client_id))]
    assert (row["owed_now_cents"], row["failed_charges"]) == (ESTIMATE, 1)


async def test_charges_page_by_cursor(charging: w.Charging) -> None:
    c = charging
    visit = await c.completed(number=None)  # no card: each charge stays a balance due
    client_id = visit.client.client_id
    assert client_id is not None
    for cents in (1000, 2000):
        await service.add_completion_charge(c.db, client_id, uuid.uuid4(), cents)
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        path = f"/clients/{client_id}/charges?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await get(c, visit.client, path)
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    total = await c.db.fetchval("SELECT count(*) FROM client_charges WHERE client_id = $1",
                                client_id)  # fmt: skip
    assert len(seen) == len(set(seen)) == total == 3
    bad = await c.api.get(f"/clients/{client_id}/charges?cursor=bm9wZQ",
                          headers=c.token(visit.client))  # fmt: skip
    assert bad.status_code == 400
    assert "cursor" in bad.text
    too_many = await c.api.get(f"/clients/{client_id}/charges?limit=201",
                               headers=c.token(visit.client))  # fmt: skip
    assert too_many.status_code == 400
    assert "limit" in too_many.text


@pytest.mark.parametrize(("month", "status"), [("2026-13", 422), ("1999-12", 422),
                                               ("2099-01", 422), ("2026-1", 400)])  # fmt: skip
async def test_a_bad_month_is_refused_naming_it(
    db: asyncpg.Connection, api: httpx.AsyncClient, settings: Settings, token: Any, month: str,
    status: int,
) -> None:  # fmt: skip
    who = await make_client(db, settings)
    path = f"/clients/{who.client_id}/statements/{month}"
    response = await api.get(path, headers=token(who))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "month" in response.text


async def test_a_written_off_balance_is_no_longer_owed_nor_due(
    charging: w.Charging, clock: Clock
) -> None:
    c = charging
    charge = await r.declined(c, "stolen_card")  # a hard decline: never retried
    assert await r.follow_ups(c) == ["hard decline"]
    client_id = charge["client_id"]
    who = await client_actor(c.db, client_id)
    before = await get(c, who, f"/clients/{client_id}/balance")
    assert before["owed_now_cents"] == charge["amount_cents"]
    clock.advance(timedelta(days=c.settings.bad_debt_after_days))
    assert await r.write_offs(c) == ["written off"]
    after = await get(c, who, f"/clients/{client_id}/balance")
    assert after["balance_cents"] == await receivable(c.db, client_id) == 0
    assert (after["owed_now_cents"], after["written_off_cents"]) == (0, charge["amount_cents"])
    assert after["oldest_due_at"] is None
    ops = charge["visit"].ops
    due = await get(c, ops, "/payments/balances-due")
    assert str(client_id) not in {x["client_id"] for x in due["items"]}
    failed = await get(c, ops, f"/payments/failed?client_id={client_id}")
    (row,) = failed["items"]
    assert (row["recovery_status"], row["decline_class"]) == ("written_off", "hard")
    month = f"{clock.now().astimezone(ZoneInfo(c.settings.statement_time_zone)):%Y-%m}"
    statement = await get(c, who, f"/clients/{client_id}/statements/{month}")
    reconciles(statement)
    assert statement["lines"][-1]["kind"] == "other"
    assert statement["lines"][-1]["amount_cents"] == -charge["amount_cents"]
    assert statement["lines"][-1]["description"].endswith("balance written off")
