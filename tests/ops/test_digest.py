"""The ops daily digest: a fixed day's figures on hand-built data, the queues, the filing
deadlines near, who may read it, a bad day refused naming it (issue 16 item 8)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.core.auth import Actor
from services.core.clock import Clock
from services.remittance.service import post_file_on
from tests.factories import (
    make_claim,
    make_client_actor,
    make_ops,
    make_payer,
    make_provider_actor,
    make_session,
)
from tests.remittance import fixtures as f
from tests.remittance import true_ups as tu
from tests.remittance.billed import Billed, bill

DAY = date(2026, 11, 26)
H_BPR = "BPR*H*0*C*NON************20261204~\n"
DEBIT_100 = f.ACH.format(amount=100).replace("*C*ACH*", "*D*ACH*", 1)


def ours(text: str, billed: Billed, number: str) -> str:
    text = text.replace(f"HC000000{number}A", billed.clm01)
    return text.replace(f"L000000{number}A1", billed.line_controls[0])


async def _post(db: asyncpg.Connection, ops: Actor, body: str, control: int) -> None:
    await post_file_on(db, f.interchange([body], control=control).encode(), "upload", ops)


async def _hold(db: asyncpg.Connection, session_id: uuid.UUID, ops: Actor, at: datetime) -> None:
    """The session confirmed on hold for unknown coverage, as completion leaves it."""
    await db.execute(
        """
        UPDATE therapy_sessions SET status = 'confirmed', confirmed_at = $2, confirmed_by = $3,
            diagnosis_codes = '{F411}', started_at = starts_at, actual_minutes = 50,
            note_attested = true, billing_hold = 'unknown', billing_hold_at = $2,
            billing_hold_offset_minutes = 0
        WHERE id = $1
        """,
        session_id,
        at,
        ops.user_id,
    )


@pytest.fixture
async def day_of_work(db: asyncpg.Connection, clock: Clock) -> dict[str, Any]:
    """On DAY: four files (a paid and a partly paid claim with PLBs, a denial, the paid one's
    reversal, an unmatched claim); the day before, one more file; and the work queues."""
    ops, provider = await make_ops(db), await make_provider_actor(db)
    payer = await make_payer(db, timely_filing_days=30)
    paid, partly, denied, before = [await bill(db, payer.id, provider) for _ in range(4)]
    clock.freeze(datetime(2026, 11, 25, 23, 59, tzinfo=UTC))
    await _post(db, ops, f.transaction(ours(f.PAID, before, "1"), trace="EFT0009"), 109)
    clock.freeze(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))
    claims = ours(f.PAID, paid, "1") + ours(f.PARTLY_PAID, partly, "2")
    await _post(db, ops, f.transaction(claims, paid="117.75", plb=f.PLBS, trace="EFT0001"), 101)
    clock.freeze(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    await _post(db, ops, f.transaction(ours(f.DENIED, denied, "6"), bpr=H_BPR, trace="EFT2"), 102)
    reversal = f.REVERSAL_AND_CORRECTION.split("CLP*HC0000001A*1*", 1)[0]
    await _post(db, ops, f.transaction(ours(reversal, paid, "1"), bpr=DEBIT_100, trace="EFT3"), 103)
    clock.freeze(datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC))
    await _post(db, ops, f.transaction(f.PAID, trace="EFT0004"), 104)  # no claim of ours
    # The queues: a flagged claim, a rejected one, two near their deadline, one held session.
    flagged = await make_claim(db, payer.id, service_date=date(2026, 9, 1))  # deadline 10-01
    await db.execute(
        "UPDATE claims SET needs_ops = true, ops_kind = 'other', ops_since = $2,"
        " ops_reason = 'probe' WHERE id = $1",
        flagged,
        clock.now(),
    )
    rejected = await make_claim(db, payer.id, service_date=date(2026, 11, 1))  # deadline 12-01
    await db.execute("UPDATE claims SET status = 'rejected' WHERE id = $1", rejected)
    await make_claim(db, payer.id, service_date=date(2026, 11, 20))  # deadline 12-20: not near
    session = await make_session(db, ops, provider, await make_client_actor(db))
    await _hold(db, session.id, ops, clock.now())
    clock.freeze(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    return {"ops": ops, "provider": provider, "flagged": flagged, "rejected": rejected}


async def test_a_days_digest_on_hand_built_data(
    client: httpx.AsyncClient, token: Any, day_of_work: dict[str, Any]
) -> None:
    response = await client.get("/ops/digest", headers=token(day_of_work["ops"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["day"] == DAY.isoformat()  # yesterday by the clock
    assert body["generated_at"].startswith("2026-11-27T07:00:00")
    assert body["eras"] == {
        "files": 4, "payments": 4, "claims": 5,
        # 100 + 30 + 0 (denied) - 100 (reversal) + 100 (unmatched)
        "paid_cents": 13000,
        "provider_adjustment_cents": 1225,
        # 20 + 90 + 0 - 20 + 20 (the unmatched claim's PR, as the 835 says)
        "patient_responsibility_cents": 11000,
        "denied_claims": 1, "denied_charge_cents": 15000, "loss_cents": 12000,
        "reversals": 1, "reversed_cents": 10000,
    }  # fmt: skip
    review = body["review"]
    assert review["remittance"] == {
        "needs_ops": 1, "unmatched": 1, "true_ups_in_review": 0, "refused_files": 0,
        "awaiting_correction": 0,  # the reversal is a day old: its correction may still come
    }  # fmt: skip
    assert review["coverage_holds"] == 1
    claims = review["claims"]
    assert (claims["needs_ops"], claims["rejected"]) == (1, 1)
    assert (claims["deadlines_within_days"], claims["deadlines_near"]) == (14, 2)
    assert [(c["claim_id"], c["filing_deadline"], c["status"]) for c in claims["soonest"]] == [
        (str(day_of_work["flagged"]), "2026-10-01", "ready"),
        (str(day_of_work["rejected"]), "2026-12-01", "rejected"),
    ]


async def test_the_queues_count_what_waits_for_ops(
    client: httpx.AsyncClient,
    token: Any,
    db: asyncpg.Connection,
    clock: Clock,
    day_of_work: dict[str, Any],
) -> None:
    """A reversal with no correction past reversal_correction_days (30), a refused file not
    yet resolved, and a true-up ops must confirm are counted; a resolved refusal is not."""
    await db.execute(
        """
        INSERT INTO remittance_fetch_refusals
            (clearinghouse, isa13, sha256, raw, error, received_at)
        VALUES ('HEARTHCH', '901', repeat('a', 64), 'x', 'ISA: not X12', $1),
               ('HEARTHCH', '902', repeat('b', 64), 'x', 'ISA: not X12', $1)
        """,
        clock.now(),
    )
    await db.execute(
        "UPDATE remittance_fetch_refusals SET resolved_at = $1, resolved_by = $2,"
        " resolution_note = 'sent again' WHERE isa13 = '902'",
        clock.now(),
        day_of_work["ops"].user_id,
    )
    other = await bill(db, (await make_payer(db)).id, day_of_work["provider"])
    body = tu.ours(tu.OTHER_PR, other, "8")  # PR-27: ops confirm it before the client owes it
    await _post(db, day_of_work["ops"], f.transaction(body, paid="70", trace="EFT0005"), 105)
    clock.freeze(datetime(2027, 1, 2, 7, 0, tzinfo=UTC))  # the reversal is 37 days old
    response = await client.get(
        "/ops/digest", params={"day": "2027-01-01"}, headers=token(day_of_work["ops"])
    )
    assert response.status_code == 200, response.text
    assert response.json()["review"]["remittance"] == {
        "needs_ops": 2, "unmatched": 1, "true_ups_in_review": 1, "refused_files": 1,
        "awaiting_correction": 1,
    }  # fmt: skip


async def test_another_day_counts_its_own_files(
    client: httpx.AsyncClient, token: Any, day_of_work: dict[str, Any]
) -> None:
    headers = token(day_of_work["ops"])
    before = (await client.get("/ops/digest?day=2026-11-25", headers=headers)).json()
    assert (before["eras"]["files"], before["eras"]["paid_cents"]) == (1, 10000)
    empty = (await client.get("/ops/digest?day=2026-11-20", headers=headers)).json()
    assert empty["eras"]["files"] == empty["eras"]["claims"] == empty["eras"]["paid_cents"] == 0
    today = await client.get("/ops/digest?day=2026-11-27", headers=headers)
    assert today.status_code == 200  # the day so far


@pytest.mark.parametrize(
    "day", ["2026-13-01", "yesterday", "26-11-2026", "2026-11-28", "1999-12-31"]
)
async def test_a_bad_day_is_refused_naming_it(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, clock: Clock, day: str
) -> None:
    clock.freeze(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    response = await client.get(f"/ops/digest?day={day}", headers=token(await make_ops(db)))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "day"


async def test_only_ops_read_digests(
    client: httpx.AsyncClient, token: Any, db: asyncpg.Connection, clock: Clock
) -> None:
    for path in ("/ops/digest", "/ops/digests", "/ops/digests/2026-11-26"):
        assert (await client.get(path)).status_code == 401
        for who in (await make_provider_actor(db), await make_client_actor(db)):
            assert (await client.get(path, headers=token(who))).status_code == 403
    missing = await client.get("/ops/digests/2026-11-26", headers=token(await make_ops(db)))
    assert missing.status_code == 404
    assert missing.json()["code"] == "ops_digest_not_found"


def test_the_window_is_a_setting_of_fourteen_days_by_default(settings: Any) -> None:
    assert settings.ops_digest_deadline_days == 14
    assert settings.ops_digest_hour == 7
    assert timedelta(days=settings.ops_digest_deadline_days) == timedelta(days=14)
