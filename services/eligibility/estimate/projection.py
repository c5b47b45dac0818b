"""The next sessions, each starting from the accumulators the one before left."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from schemas.eligibility import Benefits, Network
from schemas.estimates import AccumulatorState, Projection, SessionEstimate

from .session import estimate_session


def weekly(start: date, count: int) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(count)]


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
) -> Projection:
    """Sessions on `dates` (in order), or `count` weekly sessions from `start`.

    Each session lowers the remaining deductible and out-of-pocket by what it used and uses a
    visit; a session past the plan year's end starts from reset accumulators. A session that
    cannot be estimated leaves the accumulators as they were.
    """
    if (dates is None) == (start is None or count is None):
        raise ValueError("give either dates, or start and count")
    when = list(dates) if dates is not None else weekly(start, count)  # type: ignore[arg-type]
    if any(later < earlier for earlier, later in pairwise(when)):
        raise ValueError("session dates must be in order")
    sessions: list[SessionEstimate] = []
    for session_date in when:
        estimate = estimate_session(
            benefits,
            network=network,
            allowed_cents=allowed_cents,
            self_pay_cents=self_pay_cents,
            oon_allowed_cents=oon_allowed_cents,
            session_date=session_date,
            state=state,
        )
        sessions.append(estimate)
        if estimate.after is not None:
            state = estimate.after
    estimated = [s for s in sessions if s.status == "estimated"]
    return Projection(
        sessions=sessions,
        client_total_cents=sum(s.client_cents or 0 for s in estimated),
        insurer_total_cents=sum(s.insurer_cents or 0 for s in estimated),
        complete=len(estimated) == len(sessions),
    )
