"""Ops' "run now" for today takes what is due at that instant: a second run later the same day
pays what became due since as a new payout (its own cutoff), and never an entry twice; a run for
an earlier date keeps that day's start as its cutoff."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.core import clock
from services.payouts.schedules import cutoff_of
from tests import factories as f
from tests.payouts import run_world as r
from tests.payouts import world as w

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


async def test_a_second_run_now_today_pays_only_what_became_due_since(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    provider = await r.provider_owed(db, api, token, [6_000])
    body = {"run_date": clock.today().isoformat(), "provider_id": str(provider.provider_id)}
    first = await api.post("/payouts/runs", json=body, headers=ops)
    assert first.status_code == 201, first.text
    (made,) = await db.fetch("SELECT period_end FROM payouts")
    assert made["period_end"] > cutoff_of(clock.today())  # the instant ops pressed it
    assert made["period_end"] <= clock.now()
    # A session whose edit window closed after the day began (past it now) is due now.
    late = clock.now() - timedelta(hours=48, minutes=30)
    await w.session_entry(db, provider.provider_id, uuid.uuid4(), 2_500, late)
    second = await api.post("/payouts/runs", json=body, headers=ops)
    assert (second.json()["payouts"], second.json()["total_cents"]) == (2, 8_500)
    amounts = sorted(p["amount_cents"] for p in await r.payouts(db))
    assert amounts == [2_500, 6_000]
    covered = await db.fetch("SELECT entry_id FROM payout_lines")
    assert len(covered) == len({x["entry_id"] for x in covered}) == 2
    third = await api.post("/payouts/runs", json=body, headers=ops)
    assert third.json()["payouts"] == 2  # nothing new due: no payout
    await r.assert_balanced(db)


async def test_a_run_for_an_earlier_date_keeps_that_days_cutoff(
    db: asyncpg.Connection, api: httpx.AsyncClient, token: Any
) -> None:
    ops = token(await f.make_ops(db))
    yesterday = clock.today() - timedelta(days=1)
    provider = await r.provider_owed(db, api, token, [])
    await w.session_entry(db, provider.provider_id, uuid.uuid4(), 4_000, r.settled_at(yesterday))
    body = {"run_date": yesterday.isoformat(), "provider_id": str(provider.provider_id)}
    assert (await api.post("/payouts/runs", json=body, headers=ops)).status_code == 201
    (made,) = await db.fetch("SELECT period_end, amount_cents FROM payouts")
    assert (made["period_end"], made["amount_cents"]) == (cutoff_of(yesterday), 4_000)
