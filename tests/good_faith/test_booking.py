"""Booking issues a Good Faith Estimate to self-pay and out-of-network clients only: one per
course, a new version when the rate or the service changes, a new course past its 12 months."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx

from schemas.eligibility import Benefits, TierBenefits
from schemas.therapy_sessions import BookSessionIn
from services.core import clock as hearth_clock
from services.core.clock import Clock
from services.core.settings import Settings
from services.good_faith.service import EXPECTED_SESSIONS, course_period
from services.providers.details import set_self_pay_rate
from services.therapy_sessions.service import book_session
from tests.clients.helpers import audit_rows, session_body
from tests.factories import future, make_session
from tests.good_faith.helpers import email_jobs, estimates, self_pay_parties
from tests.therapy_sessions.completion import arrange, benefit_check


async def test_a_self_pay_booking_issues_one_estimate_and_queues_its_email(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: Settings, token: Any
) -> None:
    _ops, provider, me, _provider_id = await self_pay_parties(db, settings, cpt_90834=14000)
    starts = future(10)
    body = session_body(provider, starts_at=starts.isoformat(), duration_minutes=45)
    booked = await client.post("/therapy-sessions", json=body, headers=token(me))
    assert booked.status_code == 201, booked.text
    [gfe] = await estimates(db, me)
    assert (gfe["reason"], gfe["version"], str(gfe["therapy_session_id"])) == (
        "self_pay", 1, booked.json()["id"])  # fmt: skip
    assert (gfe["period_start"], gfe["period_end"]) == course_period(starts.date())
    assert gfe["expected_sessions"] == EXPECTED_SESSIONS
    assert [(x["cpt_code"], x["unit_cents"], x["quantity"]) for x in gfe["lines"]] == [
        ("90834", 14000, EXPECTED_SESSIONS)
    ]
    assert gfe["total_cents"] == 14000 * EXPECTED_SESSIONS
    assert await email_jobs(db, [gfe["id"]]) == 1
    [created] = await audit_rows(db, "good_faith_estimate", gfe["id"])
    assert (created["action"], created["actor_user_id"]) == ("create", me.user_id)

    # A later booking inside the course's period issues nothing more.
    again = session_body(provider, starts_at=future(17).isoformat(), duration_minutes=45)
    later = await client.post("/therapy-sessions", json=again, headers=token(me))
    assert later.status_code == 201
    assert len(await estimates(db, me)) == 1
    assert await email_jobs(db, [gfe["id"]]) == 1


async def test_a_changed_rate_or_service_issues_a_new_version_of_the_course(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider, me, provider_id = await self_pay_parties(
        db, settings, cpt_90834=14000, cpt_90837=19000
    )
    await make_session(db, ops, provider, me, starts_at=future(7))  # 50 minutes: 90834
    await set_self_pay_rate(db, provider_id, "90834", 15000)
    await make_session(db, ops, provider, me, starts_at=future(14))
    first, second = await estimates(db, me)
    assert first["course_id"] == second["course_id"]
    assert (first["version"], second["version"]) == (1, 2)
    assert first["superseded_at"] is not None
    assert second["superseded_at"] is None
    assert (second["period_start"], second["period_end"]) == (
        first["period_start"], first["period_end"])  # fmt: skip
    assert second["lines"][0]["unit_cents"] == 15000
    assert second["total_cents"] == 15000 * EXPECTED_SESSIONS

    # A new service (a 60-minute session) is a third version.
    await book_session(db, ops, BookSessionIn(
        provider_id=provider_id, client_id=me.client_id, starts_at=future(21),
        duration_minutes=60, place_of_service="10",
    ))  # fmt: skip
    found = await estimates(db, me)
    assert [e["version"] for e in found] == [1, 2, 3]
    assert found[2]["lines"][0]["cpt_code"] == "90837"
    assert await email_jobs(db, [e["id"] for e in found]) == 3


async def test_a_booking_past_the_course_starts_a_new_course(
    db: asyncpg.Connection, settings: Settings
) -> None:
    ops, provider, me, _provider_id = await self_pay_parties(db, settings, cpt_90834=14000)
    await make_session(db, ops, provider, me, starts_at=future(7))
    await make_session(db, ops, provider, me, starts_at=future(7 + 370))
    first, second = await estimates(db, me)
    assert first["course_id"] != second["course_id"]
    assert second["version"] == 1
    assert first["superseded_at"] is None
    assert second["period_start"] > first["period_end"]


async def test_an_in_network_booking_gets_no_estimate_and_out_of_network_does(
    db: asyncpg.Connection, settings: Settings, clock: Clock
) -> None:
    """In network (credentialed, never checked or checked in network): none. Out of network,
    by the plan's benefit (only out-of-network lines) or a provider not credentialed: one."""
    visit = await arrange(db, settings)  # credentialed, priced, booked with the policy
    assert await estimates(db, visit.client) == []
    only_oon = TierBenefits(covered=True, coinsurance=None)
    await benefit_check(db, visit, Benefits(status="active", trace="T1", out_of_network=only_oon))
    await make_session(db, visit.ops, visit.provider, visit.client, visit.policy_id)
    [gfe] = await estimates(db, visit.client)
    assert gfe["reason"] == "out_of_network"

    other = await arrange(db, settings, credentialed=False)
    [gfe] = await estimates(db, other.client)
    assert (gfe["reason"], gfe["therapy_session_id"]) == ("out_of_network", other.session.id)


async def test_no_self_pay_rate_no_estimate(db: asyncpg.Connection, settings: Settings) -> None:
    """Without a self-pay rate for the booked service nothing can be estimated (completion
    refuses to bill it, too): the booking goes on."""
    ops, provider, me, _provider_id = await self_pay_parties(db, settings)
    await make_session(db, ops, provider, me)
    assert await estimates(db, me) == []


async def test_a_course_of_29_february_ends_before_its_anniversary() -> None:
    assert course_period(date(2028, 2, 29)) == (date(2028, 2, 29), date(2029, 2, 27))
    assert course_period(date(2026, 12, 30)) == (date(2026, 12, 30), date(2027, 12, 29))
    start = hearth_clock.today()
    assert course_period(start)[1] - start < timedelta(days=366)
