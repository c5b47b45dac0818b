"""The next sessions, each starting from the accumulators the one before left."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from schemas.eligibility import Benefits, Network
from schemas.estimates import AccumulatorState, ProjectionFigures, SessionFigures

from .session import Plan

WEEK = timedelta(weeks=1)


def weekly(start: date, count: int) -> list[date]:
    when = []
    for _ in range(count):
        when.append(start)
        start += WEEK
    return when


def project_sessions(
    benefits: Benefits,
    *,
    network: Network,
    allowed_cents: int | None,
    self_pay_cents: int | None,
    oon_allowed_cents: int | None,
    state: AccumulatorState,
    dates: Sequence[date] | None = None,
    start: date | None = None,
    count: int | None = None,
) -> ProjectionFigures:
    """Sessions on `dates` (in order), or `count` weekly sessions from `start`.

    Each session lowers the remaining deductible and out-of-pocket by what it used and uses a
    visit; a session past the plan year's end starts from reset accumulators. A session with
    no estimate (no price, or figures unknown after a reset) still uses a visit while any are
    left; the status, tier and input checks and the shared lines are worked out once.
    """
    if dates is not None and start is None and count is None:
        when = list(dates)
    elif dates is None and start is not None and count is not None:
        when = weekly(start, count)
    else:
        raise ValueError("give either dates, or start and count")
    if any(later < earlier for earlier, later in pairwise(when)):
        raise ValueError("session dates must be in order")
    plan = Plan(
        benefits,
        network=network,
        allowed_cents=allowed_cents,
        self_pay_cents=self_pay_cents,
        oon_allowed_cents=oon_allowed_cents,
        state=state,
    )
    sessions: list[SessionFigures] = []
    client = insurer = 0
    complete = True
    estimate = plan.session
    for session_date in when:
        session = estimate(session_date, state)
        sessions.append(session)
        if session.after is not None:
            state = session.after
        if session.client_cents is not None and session.insurer_cents is not None:
            client += session.client_cents
            insurer += session.insurer_cents
        else:
            complete = False
    return ProjectionFigures(
        sessions=sessions,
        client_total_cents=client,
        insurer_total_cents=insurer,
        complete=complete,
    )
