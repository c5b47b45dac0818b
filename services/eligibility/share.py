"""The client's share of a completed session, from the latest benefit check (no network call).

Completion (therapy_sessions) books it as client_receivable; estimate_service projects the
same engine for sessions still to come.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

import asyncpg

from schemas.estimates import CompletionShare
from services.core.errors import Unprocessable
from services.eligibility import queries
from services.eligibility.estimate import (
    EstimateInputError,
    choose_network,
    initial_state,
    project_sessions,
)


def out_of_range(error: EstimateInputError) -> Unprocessable:
    """The 422 for benefits or prices the engine refused, naming the field."""
    return Unprocessable(
        f"the benefit check's {error.field} is out of range: {error.message}",
        code="benefits_out_of_range",
        field=f"benefits.{error.field}",
    )


_EVER = datetime(1970, 1, 1, tzinfo=UTC)


async def plan_network(
    conn: asyncpg.Connection, policy_id: uuid.UUID, provider_id: uuid.UUID
) -> Literal["in", "out", "carve_out", "unknown", "unchecked"]:
    """What the latest answered benefit check says of this provider's sessions under the policy,
    as completion will read it (the provider credentialed): in or out of network, a carve-out,
    unknown, or never checked. Booking asks it to know who gets a Good Faith Estimate."""
    check = await queries.get_latest_check_for(conn, policy_id, provider_id, _EVER)
    if check is None:
        return "unchecked"
    if check.benefits.carve_out is not None:
        return "carve_out"
    if check.status != "active":
        return "unknown"
    return choose_network(check.benefits, provider_in_network=True)


async def completion_share(
    conn: asyncpg.Connection,
    policy_id: uuid.UUID,
    provider_id: uuid.UUID,
    allowed_cents: int,
    day: date,
) -> CompletionShare:
    """The client's estimated share of a completed in-network session, from the latest
    answered benefit check (the provider's own, else one asked without a provider)."""
    check = await queries.get_latest_check_for(conn, policy_id, provider_id, _EVER)
    if check is None:
        return CompletionShare(coverage="unchecked", client_cents=0, benefit_check_id=None)
    benefits = check.benefits
    if benefits.carve_out is not None or check.status != "active":
        coverage: Literal["carve_out", "unknown"] = (
            "carve_out" if benefits.carve_out is not None else "unknown"
        )
        return CompletionShare(coverage=coverage, client_cents=0, benefit_check_id=check.id)
    # Completion already required the provider's credentialing on this date.
    if choose_network(benefits, provider_in_network=True) == "out":
        return CompletionShare(coverage="out", client_cents=0, benefit_check_id=check.id)
    try:
        figures = project_sessions(
            benefits,
            network="in",
            allowed_cents=allowed_cents,
            self_pay_cents=None,
            oon_allowed_cents=None,
            state=initial_state(benefits, "in", check.service_date),
            dates=[day],
        )
    except EstimateInputError as error:
        raise out_of_range(error) from error
    # No figure (e.g. past a plan year the 271 gave no totals for): nothing is charged now;
    # the 835's patient responsibility moves to the client then.
    share = figures.sessions[0].client_cents or 0
    return CompletionShare(
        coverage="in", client_cents=min(share, allowed_cents), benefit_check_id=check.id
    )
