"""29 February: weekly projections step onto and over it, a plan year may end on it, and the
30-day freshness window of a benefit check counts it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import msgspec
import pytest

from schemas.benefit_checks import BenefitCheckIn
from schemas.eligibility import Benefits
from services.clearinghouse.client import CoreHttpClient
from services.clearinghouse.errors import ClearinghouseUnavailable
from services.core.clock import Clock
from services.core.db import create_pool
from services.core.settings import Settings
from services.eligibility import queries
from services.eligibility.estimate import initial_state, project_sessions
from services.eligibility.estimate_view import render_projection
from services.eligibility.service import check_benefits
from tests.eligibility import plans
from tests.factories import make_insured_client, make_ops
from tests.infra.clearinghouse.conftest import ch, clearinghouse  # noqa: F401 - the simulator fixtures

CPT_90834 = 10500
LEAP_DAY = date(2028, 2, 29)


def _weekly(benefits: Benefits, start: date, as_of: date) -> list[tuple[date, int | None]]:
    projection = project_sessions(
        benefits,
        network="in",
        allowed_cents=CPT_90834,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(benefits, "in", as_of),
        start=start,
        count=3,
    )
    return [(s.session_date, s.client_cents) for s in projection.sessions]


def test_a_weekly_projection_steps_onto_and_over_29_february() -> None:
    calendar_2028 = msgspec.structs.replace(
        plans.JORDAN_LEE, plan_begin=date(2028, 1, 1), plan_end=date(2028, 12, 31)
    )
    assert _weekly(calendar_2028, date(2028, 2, 22), date(2028, 2, 20)) == [
        (date(2028, 2, 22), 3000),
        (LEAP_DAY, 3000),
        (date(2028, 3, 7), 3000),
    ]


def test_a_plan_year_ending_on_29_february_resets_on_1_march() -> None:
    # Deductible met (copay only) until the year that ends on the leap day; then it is owed again.
    march_to_february = msgspec.structs.replace(
        plans.JORDAN_LEE, plan_begin=date(2027, 3, 1), plan_end=LEAP_DAY
    )
    figures = project_sessions(
        march_to_february,
        network="in",
        allowed_cents=CPT_90834,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(march_to_february, "in", date(2028, 2, 20)),
        dates=[date(2028, 2, 28), LEAP_DAY, date(2028, 3, 1)],
    )
    projection = render_projection(figures, full=True)
    first, leap, after = projection.sessions
    assert (first.client_cents, leap.client_cents) == (3000, 3000)
    assert leap.lines[0].kind != "plan_year_reset"
    assert after.client_cents == CPT_90834  # the whole allowed amount goes to the new deductible
    assert after.lines[0].kind == "plan_year_reset"
    assert after.before is not None
    assert after.before.year_end == date(2029, 2, 28)  # 2029 has no 29 February


def test_a_plan_year_ending_29_february_keeps_its_day_in_later_leap_years() -> None:
    # Anchored on the 271's end date: 28 February in common years, 29 in leap years, for ever.
    benefits = msgspec.structs.replace(
        plans.JORDAN_LEE, plan_begin=date(2027, 3, 1), plan_end=LEAP_DAY
    )
    dates = [
        date(2028, 3, 1),
        date(2029, 3, 1),
        date(2030, 3, 1),
        date(2031, 3, 1),
        date(2032, 2, 29),
        date(2032, 3, 1),
    ]
    figures = project_sessions(
        benefits,
        network="in",
        allowed_cents=CPT_90834,
        self_pay_cents=None,
        oon_allowed_cents=None,
        state=initial_state(benefits, "in", date(2028, 2, 20)),
        dates=dates,
    )
    ends = [s.before.year_end for s in figures.sessions if s.before is not None]
    assert ends == [
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
        date(2032, 2, 29),
        date(2033, 2, 28),
    ]
    # 29 February 2032 is the last day of its plan year: no reset on it, one the day after.
    resets = [any(f.kind == "plan_year_reset" for f in s.facts) for s in figures.sessions]
    assert resets == [True, True, True, True, False, True]


@pytest.fixture
async def pool(committed_db: str) -> AsyncGenerator[asyncpg.Pool, None]:
    pg = await create_pool(committed_db, min_size=1, max_size=3)
    yield pg
    await pg.close()


async def test_the_freshness_window_counts_29_february(
    pool: asyncpg.Pool,
    settings: Settings,
    clock: Clock,
    ch: httpx.AsyncClient,  # noqa: F811 - the fixture
) -> None:
    """A check answered 1 Feb 2028 at noon is fresh for 30 days: until 2 March at noon."""
    answered = datetime(2028, 2, 1, 12, 0, tzinfo=UTC)
    clock.freeze(answered)
    async with pool.acquire() as conn, conn.transaction():
        ops = await make_ops(conn)
        me, policy_id = await make_insured_client(conn, settings)
        stored = await queries.insert_check(
            conn,
            policy_id=policy_id,
            client_id=me.client_id,
            provider_id=None,
            service_date=answered.date(),
            trace=uuid.uuid4().hex,
            payload_id=uuid.uuid4(),
            status="active",
            benefits=plans.JORDAN_LEE,
            request_x12="ISA*270",
            response_x12="ISA*271",
            requested_by=ops.user_id,
            requested_at=answered,
            completed_at=answered,
            duration_ms=5,
        )
    # Asked again once stale, the payer is down: a refusal shows the check was not reused.
    assert (await ch.post("/_admin/mode", json={"mode": "down"})).status_code == 200
    live = msgspec.structs.replace(
        settings,
        clearinghouse_url=f"{str(ch.base_url).rstrip('/')}/core",
        clearinghouse_timeout_s=0.5,
        clearinghouse_deadline_s=1.0,
    )
    adapter = CoreHttpClient.from_settings(live)
    request = BenefitCheckIn(policy_id=policy_id)
    try:
        assert settings.benefit_check_fresh_days == 30
        for at in (datetime(2028, 2, 29, 23, 59, tzinfo=UTC), answered + timedelta(days=30)):
            clock.freeze(at)
            out, asked = await check_benefits(pool, adapter, live, ops, request)
            assert (out.id, out.reused, asked) == (stored.id, True, False), at
        clock.freeze(datetime(2028, 3, 2, 12, 0, 1, tzinfo=UTC))
        with pytest.raises(ClearinghouseUnavailable):
            await check_benefits(pool, adapter, live, ops, request)
    finally:
        await adapter.aclose()
