"""Who sees and runs payouts: ops everything; a provider only their own (another's is 404); a
client 403; no token 401. Ops' "run now" once per Idempotency-Key, its date checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from services.core import clock
from services.core.transactions import Transactions
from services.payments.gateway import StripeGateway
from tests import factories as f
from tests.payouts import run_world as r

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def _paid_payout(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> tuple[Any, str]:  # fmt: skip
    provider = await r.provider_owed(db, api, token, [11_000])
    await r.fund(stripe_client, 100_000)
    await r.run(db, provider_id=provider.provider_id)
    assert await r.run_transfers(db, tx, gateway) == ["paid"]
    (payout,) = await r.payouts(db)
    return provider, str(payout["id"])


async def test_a_provider_sees_only_their_own_payouts(
    db: asyncpg.Connection, api: httpx.AsyncClient, tx: Transactions, gateway: StripeGateway,
    stripe_client: stripe.StripeClient, token: Any,
) -> None:  # fmt: skip
    provider, payout_id = await _paid_payout(db, api, tx, gateway, stripe_client, token)
    other = await f.make_provider_actor(db)
    mine = f"/providers/{provider.provider_id}/payouts"
    listed = await api.get(mine, headers=token(provider))
    assert listed.status_code == 200
    assert [(p["id"], p["status"]) for p in listed.json()["items"]] == [(payout_id, "paid")]
    assert listed.json()["next_cursor"] is None
    shown = await api.get(f"/payouts/{payout_id}", headers=token(provider))
    assert (shown.status_code, shown.json()["payout"]["amount_cents"]) == (200, 11_000)
    assert (await api.get(mine, headers=token(other))).status_code == 404
    assert (await api.get(f"/payouts/{payout_id}", headers=token(other))).status_code == 404
    client = await f.make_client_actor(db)
    assert (await api.get(mine, headers=token(client))).status_code == 403
    assert (await api.get(f"/payouts/{payout_id}", headers=token(client))).status_code == 403
    assert (await api.get(mine)).status_code == 401
    assert (await api.get(f"/payouts/{payout_id}")).status_code == 401
    ops = token(await f.make_ops(db))
    assert (await api.get(f"/payouts/{payout_id}", headers=ops)).status_code == 200
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await api.get(f"/payouts/{unknown}", headers=ops)).status_code == 404
    reads = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout' AND action = 'read'"
    )
    assert reads == 3  # the provider's list and read, ops' read


@pytest.mark.parametrize("who", ["none", "provider", "client"])
async def test_only_ops_list_run_and_retry(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, who: str
) -> None:
    caller = None if who == "none" else await f.make_actor(db, who)
    headers = token(caller) if caller else {}
    expected = 401 if who == "none" else 403
    body = {"run_date": clock.today().isoformat()}
    assert (await api.get("/payouts", headers=headers)).status_code == expected
    assert (await api.get("/payouts/runs", headers=headers)).status_code == expected
    assert (await api.post("/payouts/runs", json=body, headers=headers)).status_code == expected
    unknown = "00000000-0000-4000-8000-000000000000"
    retried = await api.post(f"/payouts/{unknown}/retry", headers=headers)
    assert retried.status_code == expected
    assert await db.fetchval("SELECT count(*) FROM payout_runs") == 0


async def test_run_now_once_per_key_and_filters(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    provider = await r.provider_owed(db, api, token, [6_000])
    body = {"run_date": clock.today().isoformat(), "provider_id": str(provider.provider_id)}
    key = {"Idempotency-Key": "run-today"}
    first = await api.post("/payouts/runs", json=body, headers={**ops, **key})
    assert first.status_code == 201, first.text
    assert (first.json()["payouts"], first.json()["pending"], first.json()["runs"]) == (1, 1, 1)
    again = await api.post("/payouts/runs", json=body, headers={**ops, **key})
    assert again.json() == first.json()
    # Without the key a repeat runs again and pays no one twice.
    repeat = await api.post("/payouts/runs", json=body, headers=ops)
    assert (repeat.json()["payouts"], repeat.json()["runs"]) == (1, 2)
    assert len(await r.payouts(db)) == 1
    filters = {"status": "pending", "provider": str(provider.provider_id)}
    pending = await api.get("/payouts", params=filters, headers=ops)
    assert len(pending.json()["items"]) == 1
    assert (await api.get("/payouts", params={"status": "paid"}, headers=ops)).json()[
        "items"] == []  # fmt: skip
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    by_day = await api.get("/payouts", params={"period": yesterday}, headers=ops)
    assert by_day.json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_date": "tomorrow"}, "run_date"),
        ({}, "run_date"),
        ({"run_date": "2026-01-01", "provider_id": "nope"}, "provider_id"),
        ({"run_date": "2026-01-01", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_run_is_refused_naming_the_field(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any, body: dict[str, Any], field: str
) -> None:
    ops = token(await f.make_ops(db))
    refused = await api.post("/payouts/runs", json=body, headers=ops)
    assert refused.status_code == 400, refused.text
    assert field in refused.text


async def test_a_future_run_date_is_refused(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    later = (clock.today() + timedelta(days=1)).isoformat()
    refused = await api.post("/payouts/runs", json={"run_date": later}, headers=ops)
    assert (refused.status_code, refused.json()["code"]) == (422, "bad_payout_run")
    assert "run_date" in refused.text
    bad = await api.get("/payouts", params={"status": "lost"}, headers=ops)
    assert bad.status_code == 400
    assert "status" in bad.text
