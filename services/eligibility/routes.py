"""/benefit-checks, /estimates and /payers/{id}/out-of-network-rates."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from schemas.benefit_checks import (
    BenefitCheckIn,
    BenefitCheckOut,
    BenefitCheckX12Out,
    EstimateIn,
    EstimateOut,
    OutOfNetworkRateIn,
    OutOfNetworkRateOut,
)
from services.clearinghouse.client import CoreHttpClient
from services.core.auth import ROLES, allow
from services.core.deps import AppSettings, Caller, Conn, Pool, RedisClient
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.eligibility import estimate_service, service

# The clearinghouse the app provides (services/app.py), named here rather than in core (which
# knows no domain). Typed as the HTTP client, not the ClearinghouseAdapter Protocol: Litestar
# checks an injected value against its annotation, and a Protocol there answers 500.
Clearinghouse: TypeAlias = NamedDependency[CoreHttpClient]


class BenefitChecksController(Controller):
    path = "/benefit-checks"
    tags = ["eligibility"]

    @post("/", guards=[allow(*ROLES)], operation_id="check_benefits")
    async def check(
        self,
        data: JSONBody[BenefitCheckIn],
        pool: Pool,
        clearinghouse: Clearinghouse,
        settings: AppSettings,
        actor: Caller,
        redis: RedisClient,
    ) -> Response[BenefitCheckOut]:
        """Ask the payer what the policy covers (201), or return a fresh answer on file (200)."""
        # No request transaction here: nothing may be held while the clearinghouse answers.
        check, asked = await service.check_benefits(
            pool, clearinghouse, settings, actor, data, redis=redis
        )
        return Response(check, status_code=201 if asked else 200)

    @get("/", guards=[allow(*ROLES)], operation_id="list_benefit_checks")
    async def list(
        self,
        conn: Conn,
        actor: Caller,
        client_id: FromQuery[uuid.UUID],
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[BenefitCheckOut]:
        """A client's benefit checks, newest first."""
        return await service.list_checks(conn, actor, client_id, limit, cursor)

    @get("/{check_id:uuid}", guards=[allow(*ROLES)], operation_id="get_benefit_check")
    async def get_one(
        self, check_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> BenefitCheckOut:
        """One benefit check with the benefits read from its 271."""
        return await service.get_check(conn, actor, check_id)

    @get("/{check_id:uuid}/x12", guards=[allow("ops")], operation_id="get_benefit_check_x12")
    async def x12(
        self, check_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> BenefitCheckX12Out:
        """The 270 sent and the 271 received (ops)."""
        return await service.get_check_x12(conn, actor, check_id)


class EstimatesController(Controller):
    path = "/estimates"
    tags = ["eligibility"]

    @post("/", guards=[allow(*ROLES)], operation_id="estimate_sessions", status_code=200)
    async def estimate(
        self,
        data: JSONBody[EstimateIn],
        pool: Pool,
        clearinghouse: Clearinghouse,
        settings: AppSettings,
        actor: Caller,
        redis: RedisClient,
    ) -> EstimateOut:
        """What the next sessions will cost the client, with the reasons, line by line.

        Ops see the payer's allowed amount and the insurer's share; a provider or client sees
        the client's share and lines that do not state the contracted rate.
        """
        return await estimate_service.estimate(
            pool, clearinghouse, settings, actor, data, redis=redis
        )


class OutOfNetworkRatesController(Controller):
    path = "/payers/{payer_id:uuid}/out-of-network-rates"
    tags = ["payers"]

    @put("/{cpt_code:str}", guards=[allow("ops")], operation_id="set_out_of_network_rate")
    async def set(
        self,
        payer_id: FromPath[uuid.UUID],
        cpt_code: FromPath[str],
        data: JSONBody[OutOfNetworkRateIn],
        conn: Conn,
        actor: Caller,
    ) -> OutOfNetworkRateOut:
        """What the plan allows out of network for a CPT code (the 271 does not say)."""
        return await estimate_service.set_oon_rate(
            conn, actor, payer_id, cpt_code, data.allowed_cents
        )

    @get("/", guards=[allow("ops", "provider")], operation_id="list_out_of_network_rates")
    async def list(self, payer_id: FromPath[uuid.UUID], conn: Conn) -> list[OutOfNetworkRateOut]:
        """The plan's out-of-network allowed amounts by CPT code."""
        return await estimate_service.list_oon_rates(conn, payer_id)
