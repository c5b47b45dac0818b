"""The estimate use case: a benefit check plus the payer's allowed amount, through the pure engine.

The engine computes figures; estimate_view writes their text for the caller's role. Benefits
whose figures are out of range (a coinsurance outside 0-1, a negative amount) are refused with
a 422 naming the field, never computed.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
from redis.asyncio import Redis

from schemas.benefit_checks import BenefitCheckIn, EstimateIn, EstimateOut, OutOfNetworkRateOut
from services.clearinghouse.client import ClearinghouseAdapter
from services.core import clock
from services.core.auth import Actor
from services.core.db import transaction
from services.core.settings import Settings
from services.credentialing.service import is_credentialed
from services.eligibility import estimate_view, queries
from services.eligibility.estimate import (
    EstimateInputError,
    choose_network,
    initial_state,
    project_sessions,
    weekly,
)
from services.eligibility.service import check_benefits
from services.eligibility.share import out_of_range
from services.payers.service import get_payer, get_rate
from services.providers.service import checked_cpt, get_self_pay_rate


async def estimate(
    pool: asyncpg.Pool,
    clearinghouse: ClearinghouseAdapter,
    settings: Settings,
    actor: Actor,
    data: EstimateIn,
    *,
    redis: Redis | None = None,
) -> EstimateOut:
    """The client's share of the next sessions with this provider for this CPT code, as the
    caller may see it (estimate_view)."""
    first = data.first_session or clock.today() + timedelta(days=7)
    check, _ = await check_benefits(
        pool,
        clearinghouse,
        settings,
        actor,
        BenefitCheckIn(
            policy_id=data.policy_id,
            provider_id=data.provider_id,
            service_date=first,
            refresh=data.refresh,
        ),
        redis=redis,
    )
    async with transaction(pool) as conn:
        fee = await get_rate(conn, check.payer_id, data.cpt_code, None, first)
        self_pay = await get_self_pay_rate(conn, data.provider_id, data.cpt_code)
        oon_allowed = await queries.get_oon_rate(conn, check.payer_id, data.cpt_code)
        credentialed = await is_credentialed(conn, data.provider_id, check.payer_id, first)
        # Only an answer that does not say whether MH is covered names the payer to call.
        payer = (
            (await get_payer(conn, check.payer_id)).name
            if check.benefits.status == "unknown"
            else None
        )
    network = choose_network(check.benefits, provider_in_network=credentialed)
    try:
        figures = project_sessions(
            check.benefits,
            network=network,
            allowed_cents=fee.allowed_cents if fee else None,
            self_pay_cents=self_pay.amount_cents if self_pay else None,
            oon_allowed_cents=oon_allowed,
            state=initial_state(check.benefits, network, check.service_date),
            dates=weekly(first, data.sessions),
        )
    except EstimateInputError as error:
        raise out_of_range(error) from error
    everything = estimate_view.sees_everything(actor)
    return EstimateOut(
        client_id=check.client_id,
        provider_id=data.provider_id,
        policy_id=check.policy_id,
        payer_id=check.payer_id,
        cpt_code=data.cpt_code,
        network=network,
        network_reason=_network_reason(network, credentialed=credentialed),
        allowed_cents=fee.allowed_cents if fee and everything else None,
        self_pay_cents=self_pay.amount_cents if self_pay else None,
        out_of_network_allowed_cents=oon_allowed,
        benefit_check_id=check.id,
        checked_at=check.completed_at,
        projection=estimate_view.for_caller(figures, actor, payer=payer),
    )


def _network_reason(network: str, *, credentialed: bool) -> str:
    if credentialed and network == "in":
        return "the provider is credentialed with this payer on the first session's date"
    if credentialed:
        return "the plan covers mental health only out of network"
    return "the provider is not credentialed with this payer on the first session's date"


async def set_oon_rate(
    conn: asyncpg.Connection, actor: Actor, payer_id: uuid.UUID, cpt_code: str, allowed_cents: int
) -> OutOfNetworkRateOut:
    """Ops record what a plan allows out of network for a CPT code."""
    payer = await get_payer(conn, payer_id)
    return await queries.upsert_oon_rate(
        conn, payer.id, checked_cpt(cpt_code), allowed_cents, actor.user
    )


async def list_oon_rates(
    conn: asyncpg.Connection, payer_id: uuid.UUID
) -> list[OutOfNetworkRateOut]:
    payer = await get_payer(conn, payer_id)
    return await queries.list_oon_rates(conn, payer.id)
