"""Payout schedules and holds: the next payout date (anchor day itself, biweekly parity, the
turn of the year, a schedule changed mid-period), the expected amount read from the ledger
(edit window, recoupments), and who may read or change them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.payouts import PayoutScheduleRow
from services.core import clock
from services.payouts.schedules import DEFAULT, next_payout_date
from tests import factories as f
from tests.payouts import world as w


def weekly(day: int) -> PayoutScheduleRow:
    return PayoutScheduleRow(id=None, kind="weekly", anchor_weekday=day, anchor_date=None,
                             reason=None, changed_by=None, created_at=None)  # fmt: skip


def biweekly(anchor: date) -> PayoutScheduleRow:
    return PayoutScheduleRow(id=None, kind="biweekly", anchor_weekday=None, anchor_date=anchor,
                             reason=None, changed_by=None, created_at=None)  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "today", "expected"),
    [
        (DEFAULT, date(2026, 11, 30), date(2026, 11, 30)),  # Monday: the anchor day itself
        (DEFAULT, date(2026, 12, 1), date(2026, 12, 7)),  # the day after: a week less a day
        (DEFAULT, date(2026, 12, 30), date(2027, 1, 4)),  # 30 December: into the next year
        (weekly(5), date(2026, 12, 30), date(2027, 1, 1)),  # a Friday anchor, New Year's Day
        (weekly(3), date(2026, 12, 30), date(2026, 12, 30)),  # Wednesday 30 December itself
        (biweekly(date(2026, 11, 16)), date(2026, 11, 30), date(2026, 11, 30)),  # even week
        (biweekly(date(2026, 11, 16)), date(2026, 11, 23), date(2026, 11, 30)),  # odd week
        (biweekly(date(2026, 11, 16)), date(2026, 12, 1), date(2026, 12, 14)),
        (biweekly(date(2026, 11, 16)), date(2026, 12, 30), date(2027, 1, 11)),
        (biweekly(date(2027, 1, 11)), date(2026, 12, 30), date(2027, 1, 11)),  # anchor ahead
        (biweekly(date(2027, 2, 8)), date(2026, 12, 30), date(2027, 1, 11)),  # parity kept
        (biweekly(date(2027, 3, 1)), date(2027, 3, 14), date(2027, 3, 15)),  # US DST starts
        (biweekly(date(2026, 10, 19)), date(2026, 11, 1), date(2026, 11, 2)),  # US DST ends
        (biweekly(date(2028, 2, 21)), date(2028, 2, 29), date(2028, 3, 6)),  # over a leap day
        (biweekly(date(2020, 1, 6)), date(2026, 12, 30), date(2027, 1, 11)),  # years back
        (weekly(7), date(2028, 2, 29), date(2028, 3, 5)),  # a Sunday anchor after a leap day
    ],
)
def test_next_payout_date(schedule: PayoutScheduleRow, today: date, expected: date) -> None:
    assert next_payout_date(schedule, today) == expected


def test_a_manual_schedule_has_no_next_date() -> None:
    manual = PayoutScheduleRow(id=None, kind="manual", anchor_weekday=None, anchor_date=None,
                               reason=None, changed_by=None, created_at=None)  # fmt: skip
    assert next_payout_date(manual, date(2026, 12, 30)) is None


def _today_noon() -> datetime:
    """Noon of the run's today (30 December when the suite runs shifted there)."""
    noon = datetime.combine(clock.now().date(), time(12), UTC)
    clock.CLOCK.freeze(noon)
    return noon


async def _owed(db: asyncpg.Connection, pid: uuid.UUID, cutoff: datetime, now: datetime) -> None:
    """Session A past its edit window at `cutoff` (10,000 less a 500 edit), session B not
    (8,000), and a recoupment of 2,000 made yesterday."""
    a, b = uuid.uuid4(), uuid.uuid4()
    await w.session_entry(db, pid, a, 10_000, cutoff - timedelta(hours=49))
    await w.session_entry(db, pid, a, -500, cutoff - timedelta(hours=48, minutes=30),
                          kind="completion_edited")  # fmt: skip
    await w.session_entry(db, pid, b, 8_000, cutoff - timedelta(hours=46))
    await w.recoupment(db, pid, 2_000, now - timedelta(days=1))


async def _biweekly_then_manual(
    client: httpx.AsyncClient, url: str, ops: dict[str, str], now: datetime
) -> None:
    today = now.date()
    # Biweekly on its anchor day itself (the parity of two weeks ago): the payout is today,
    # whose cutoff is before A's window closed; the recoupment is still netted.
    body = {"kind": "biweekly", "anchor_date": (today - timedelta(days=14)).isoformat()}
    view = (await client.put(url, json=body, headers=ops)).json()
    assert view["next_payout_date"] == today.isoformat()
    assert view["expected"]["amount_cents"] == -2_000
    odd = {"kind": "biweekly", "anchor_date": (today - timedelta(days=7)).isoformat()}
    view = (await client.put(url, json=odd, headers=ops)).json()
    assert view["next_payout_date"] == (today + timedelta(days=7)).isoformat()

    view = (await client.put(url, json={"kind": "manual"}, headers=ops)).json()
    assert view["next_payout_date"] is None
    assert view["expected"]["cutoff"].startswith(now.date().isoformat())
    assert len(view["history"]) == 5


async def test_schedule_changes_and_the_expected_amount(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any
) -> None:
    now = _today_noon()
    today = now.date()
    provider = await f.make_provider_actor(db)
    pid = provider.provider_id
    assert pid is not None
    ops = token(await f.make_ops(db))
    url = f"/providers/{pid}/payout-schedule"
    shown = (await client.get(url, headers=token(provider))).json()
    assert shown["schedule"]["kind"] == "weekly"
    assert shown["schedule"]["anchor_weekday"] == 1
    assert shown["history"] == []
    assert date.fromisoformat(shown["next_payout_date"]) == today + timedelta(
        days=(1 - today.isoweekday()) % 7
    )

    # Tomorrow's cutoff (00:00): session A's edit window closed, B's still open.
    tomorrow = today + timedelta(days=1)
    cutoff = datetime.combine(tomorrow, time(0), UTC)
    await _owed(db, pid, cutoff, now)

    body = {"kind": "weekly", "anchor_weekday": tomorrow.isoweekday(), "reason": "asked"}
    changed = await client.put(url, json=body, headers=ops)
    assert changed.status_code == 200, changed.text
    view = changed.json()
    assert date.fromisoformat(view["next_payout_date"]) == tomorrow
    expected = view["expected"]
    assert (expected["sessions_cents"], expected["sessions"], expected["recoupments_cents"],
            expected["amount_cents"]) == (9_500, 1, 2_000, 7_500)  # fmt: skip

    # Changed mid-period to a later weekday: B is past its window by then, nothing is lost.
    later = today + timedelta(days=3)
    body = {"kind": "weekly", "anchor_weekday": later.isoweekday()}
    view = (await client.put(url, json=body, headers=ops)).json()
    assert date.fromisoformat(view["next_payout_date"]) == later
    assert (view["expected"]["amount_cents"], view["expected"]["sessions"]) == (15_500, 2)
    assert [h["anchor_weekday"] for h in view["history"]] == [
        later.isoweekday(), tomorrow.isoweekday()]  # fmt: skip

    await _biweekly_then_manual(client, url, ops, now)
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_events WHERE entity = 'payout_schedule' AND entity_id = $1",
        pid,
    )
    assert audited == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "biweekly"}, "anchor_date"),
        ({"kind": "weekly", "anchor_date": "2026-12-07"}, "anchor_date"),
        ({"kind": "weekly", "anchor_weekday": 8}, "anchor_weekday"),
        ({"kind": "biweekly", "anchor_date": "2026-12-07", "anchor_weekday": 2}, "anchor_weekday"),
        ({"kind": "manual", "anchor_weekday": 1}, "anchor_weekday"),
        ({"kind": "monthly"}, "kind"),
        ({"kind": "weekly", "reason": "x" * 501}, "reason"),
        ({"kind": "weekly", "reason": "a\x00b"}, "reason"),
    ],
)
async def test_a_bad_schedule_is_refused_naming_the_field(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any, body: dict[str, Any],
    field: str,
) -> None:  # fmt: skip
    provider = await f.make_provider_actor(db)
    url = f"/providers/{provider.provider_id}/payout-schedule"
    refused = await client.put(url, json=body, headers=token(await f.make_ops(db)))
    assert refused.status_code in (400, 422), refused.text
    assert field in refused.text
    assert await db.fetchval("SELECT count(*) FROM payout_schedules") == 0


async def test_holds_placed_and_released(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any
) -> None:
    provider = await f.make_provider_actor(db)
    ops = token(await f.make_ops(db))
    base = f"/providers/{provider.provider_id}"
    key = {"Idempotency-Key": "hold-1"}
    placed = await client.post(f"{base}/payout-holds", json={"reason": "W-9 missing"},
                               headers={**ops, **key})  # fmt: skip
    assert placed.status_code == 201, placed.text
    again = await client.post(f"{base}/payout-holds", json={"reason": "W-9 missing"},
                              headers={**ops, **key})  # fmt: skip
    assert again.json()["id"] == placed.json()["id"]
    view = (await client.get(f"{base}/payout-schedule", headers=token(provider))).json()
    assert view["held"] is True
    assert [h["reason"] for h in view["holds"]] == ["W-9 missing"]

    hold = placed.json()["id"]
    assert (await client.post(f"/payout-holds/{hold}/release", json={},
                              headers=token(provider))).status_code == 403  # fmt: skip
    released = await client.post(f"/payout-holds/{hold}/release",
                                 json={"reason": "W-9 received"}, headers=ops)  # fmt: skip
    assert released.status_code == 200, released.text
    assert released.json()["release_reason"] == "W-9 received"
    twice = await client.post(f"/payout-holds/{hold}/release", json={}, headers=ops)
    assert (twice.status_code, twice.json()["code"]) == (409, "payout_hold_released")
    unknown = await client.post(f"/payout-holds/{uuid.uuid4()}/release", json={}, headers=ops)
    assert unknown.status_code == 404
    view = (await client.get(f"{base}/payout-schedule", headers=token(provider))).json()
    assert (view["held"], view["holds"]) == (False, [])
    refused = await client.post(f"{base}/payout-holds", json={"reason": ""}, headers=ops)
    assert refused.status_code in (400, 422)
    assert "reason" in refused.text


WHO = ["none", "client", "other", "own", "ops"]


@pytest.mark.parametrize("who", WHO)
async def test_who_may_read_and_change_schedules_and_holds(
    db: asyncpg.Connection, client: httpx.AsyncClient, token: Any, who: str
) -> None:
    provider = await f.make_provider_actor(db)
    callers = {"none": None, "client": await f.make_client_actor(db),
               "other": await f.make_provider_actor(db), "own": provider,
               "ops": await f.make_ops(db)}  # fmt: skip
    caller = callers[who]
    headers = token(caller) if caller else {}
    base = f"/providers/{provider.provider_id}"
    read = {"none": 401, "client": 403, "other": 404, "own": 200, "ops": 200}[who]
    write = {"none": 401, "client": 403, "other": 403, "own": 403, "ops": 200}[who]
    assert (await client.get(f"{base}/payout-schedule", headers=headers)).status_code == read
    put = await client.put(f"{base}/payout-schedule", json={"kind": "manual"}, headers=headers)
    assert put.status_code == write
    held = await client.post(f"{base}/payout-holds", json={"reason": "r"}, headers=headers)
    assert held.status_code == (201 if write == 200 else write)
    if who in ("own", "ops"):
        unknown = f"/providers/{uuid.uuid4()}"
        assert (await client.get(f"{unknown}/payout-schedule", headers=headers)).status_code == 404
    if who == "ops":
        unknown = f"/providers/{uuid.uuid4()}"
        put = await client.put(f"{unknown}/payout-schedule", json={"kind": "manual"},
                               headers=headers)  # fmt: skip
        assert put.status_code == 404
