"""Ops' "run now" re-reads the Connect accounts of the providers it pays before it freezes, as
the daily job does, through the API against the Stripe simulator: an account Stripe enabled
whose account.updated was lost is paid, not held no_payout_account; one provider's run reads
that provider's account alone; a date's run also the account a held payout waits on; Stripe
failing or slow leaves the stored state, logged by kind, within the time allowed; a repeat
under the same Idempotency-Key calls Stripe no more."""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.auth import Actor
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from services.payouts import accounts
from services.payouts.queries import accounts as qa
from tests import factories as f
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def _webhook_lost(
    db: asyncpg.Connection, api: httpx.AsyncClient, sdk: stripe.StripeClient, token: Any,
    provider: Actor,
) -> str:  # fmt: skip
    """The provider's account as Hearth last read it not payable, then enabled at Stripe
    (onboarding finished) with its account.updated lost: its id."""
    url = f"/providers/{provider.provider_id}/payout-account"
    account_id = str((await api.get(url, headers=token(provider))).json()["stripe_account_id"])
    sdk.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    assert (await api.get(url, headers=token(provider))).json()["payouts_enabled"] is False
    sdk.v1.accounts.update(account_id, params={"payouts_enabled": True})  # type: ignore[typeddict-unknown-key]
    assert await _stored_payable(db, provider) is False
    return account_id


async def _stored_payable(db: asyncpg.Connection, provider: Actor) -> bool:
    found = await db.fetchval("SELECT payouts_enabled FROM payout_accounts WHERE provider_id = $1",
                              provider.provider_id)  # fmt: skip
    return bool(found)


async def _count_reads(admin: httpx.AsyncClient, account_id: str) -> None:
    """Every read of the account counted by the simulator (a rule that changes nothing)."""
    rule = {"kind": "slow", "delay_s": 0, "count": 1000, "method": "GET",
            "path_prefix": f"/v1/accounts/{account_id}"}  # fmt: skip
    assert (await admin.post("/_admin/faults", json=rule)).status_code == 200


async def _reads(admin: httpx.AsyncClient, account_id: str) -> int:
    rules = (await admin.get("/_admin/faults")).json()["items"]
    return sum(x["fired"] for x in rules if x["path_prefix"] == f"/v1/accounts/{account_id}"
               and x["kind"] == "slow")  # fmt: skip


def _run(api: httpx.AsyncClient, ops: dict[str, str], provider: Actor | None = None,
         key: str | None = None) -> Any:  # fmt: skip
    body: dict[str, Any] = {"run_date": clock.today().isoformat()}
    if provider is not None:
        body["provider_id"] = str(provider.provider_id)
    return api.post("/payouts/runs", json=body,
                    headers={**ops, **({"Idempotency-Key": key} if key else {})})  # fmt: skip


async def test_run_now_pays_an_account_enabled_at_stripe_whose_webhook_was_lost(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient, token: Any,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    paid = await r.provider_owed(db, api, token, [5_000, 2_500])
    other = await r.provider_owed(db, api, token, [4_000])
    account_id = await _webhook_lost(db, api, stripe_client, token, paid)
    other_account = await _webhook_lost(db, api, stripe_client, token, other)
    await _count_reads(stripe_admin, account_id)
    await _count_reads(stripe_admin, other_account)
    await r.fund(stripe_client, 100_000)
    ran = await _run(api, ops, paid, key="run-now-1")
    assert ran.status_code == 201, ran.text
    assert (ran.json()["payouts"], ran.json()["pending"], ran.json()["held"]) == (1, 1, 0)
    (payout,) = await r.payouts(db)
    assert (payout["provider_id"], payout["status"], payout["hold_reason"]) == (
        paid.provider_id, "pending", None)  # fmt: skip
    # Just that provider's account was read: the other's stays as Hearth last knew it.
    assert (await _reads(stripe_admin, account_id), await _reads(stripe_admin, other_account)) == (
        1, 0)  # fmt: skip
    assert (await _stored_payable(db, paid), await _stored_payable(db, other)) == (True, False)
    # A repeat under the key: the first answer, no second read.
    again = await _run(api, ops, paid, key="run-now-1")
    assert (again.status_code, again.json()) == (201, ran.json())
    assert await _reads(stripe_admin, account_id) == 1
    await r.assert_paid_once(db, tx, gateway, stripe_client, account_id, 7_500)


async def test_a_dates_run_now_re_reads_the_account_a_held_payout_waits_on(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    ops = token(await f.make_ops(db))
    waiting = await r.provider_owed(db, api, token, [6_000])
    account_id = await _webhook_lost(db, api, stripe_client, token, waiting)
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    # Not due today: an earlier run (ops, for them alone) held their payout for the account.
    await r.schedule_today(api, ops, waiting, due=False)
    assert (await r.run(db, provider_id=waiting.provider_id)).held == 1
    stripe_client.v1.accounts.update(account_id, params={"payouts_enabled": True})  # type: ignore[typeddict-unknown-key]
    await r.fund(stripe_client, 100_000)
    ran = await _run(api, ops)
    assert ran.status_code == 201, ran.text
    assert (ran.json()["pending"], ran.json()["held"]) == (1, 0)
    assert [(p["status"], p["hold_reason"]) for p in await r.payouts(db)] == [("pending", None)]
    await r.assert_paid_once(db, tx, gateway, stripe_client, account_id, 6_000)


async def test_a_date_reads_the_accounts_of_those_it_pays_and_those_held_payouts_wait_on(
    db: asyncpg.Connection,
) -> None:
    due, waiting, neither = [await f.make_provider_actor(db) for _ in range(3)]
    now = clock.now()
    for n, provider in enumerate((due, waiting, neither)):
        await qa.insert_account(db, provider.provider_id, now)  # type: ignore[arg-type]
        await db.execute("UPDATE payout_accounts SET stripe_account_id = $2 "
                         "WHERE provider_id = $1", provider.provider_id, f"acct_{n}")  # fmt: skip
    await db.execute(
        """
        INSERT INTO payouts (provider_id, run_date, period_end, amount_cents, sessions_cents,
                             recoupments_cents, other_cents, status, hold_reason, created_at,
                             updated_at)
        VALUES ($1, $2, $3, 100, 100, 0, 0, 'held', 'no_payout_account', $3, $3)
        """,
        waiting.provider_id, clock.today(), now,
    )  # fmt: skip

    async def listed(only: list[Any] | None, held_too: bool) -> list[Any]:
        rows = await qa.list_unpayable(db, accounts.REFRESH_LIMIT, only, held_too)
        return [x.provider_id for x in rows]

    assert await listed([due.provider_id], True) == [waiting.provider_id, due.provider_id]
    assert await listed([due.provider_id], False) == [due.provider_id]
    everyone = await listed(None, True)
    assert everyone[0] == waiting.provider_id
    assert set(everyone) == {due.provider_id, waiting.provider_id, neither.provider_id}


@pytest.mark.parametrize("fault", [
    {"kind": "error", "status": 503, "count": 1},
    {"kind": "error", "status": 429, "count": 1},
    {"kind": "timeout", "count": 1, "delay_s": 4},
])  # fmt: skip
async def test_stripe_failing_the_re_read_leaves_the_stored_state_and_the_run_goes_on(
    db: asyncpg.Connection, api: httpx.AsyncClient, stripe_client: stripe.StripeClient,
    stripe_admin: httpx.AsyncClient, token: Any, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, fault: dict[str, Any],
) -> None:  # fmt: skip
    # A short budget: the slow read is given up on well before Stripe would answer.
    monkeypatch.setattr(accounts, "REFRESH_BUDGET_S", 0.5)
    ops = token(await f.make_ops(db))
    provider = await r.provider_owed(db, api, token, [5_000])
    account_id = await _webhook_lost(db, api, stripe_client, token, provider)
    rule = {**fault, "method": "GET", "path_prefix": f"/v1/accounts/{account_id}"}
    assert (await stripe_admin.post("/_admin/faults", json=rule)).status_code == 200
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="services.payouts"):
        ran = await _run(api, ops, provider)
    assert time.monotonic() - started < 3.5  # bounded: the 4 s read is not waited for
    assert ran.status_code == 201, ran.text
    # As Hearth last knew it: held for the account, sent once it is read payable.
    assert [(p["status"], p["hold_reason"]) for p in await r.payouts(db)] == [
        ("held", "no_payout_account")]  # fmt: skip
    assert await _stored_payable(db, provider) is False
    said = [x.getMessage() for x in caplog.records if x.levelno == logging.WARNING]
    assert said in (["connect account not re-read"], ["connect accounts re-read in part"])
    ours = [x for x in caplog.records if x.name.startswith("services.")]
    logged = " ".join(f"{x.getMessage()} {x.__dict__}" for x in ours)
    assert str(provider.provider_id) not in logged
    assert account_id not in logged
    # Stripe answers again: the next run now reads it and sends the held payout.
    await r.fund(stripe_client, 100_000)
    again = await _run(api, ops, provider)
    assert (again.json()["pending"], again.json()["held"]) == (1, 0)
