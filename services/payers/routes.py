"""/payers and /payers/{payer_id}/fee-schedules."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas.payers import (
    CPT_PATTERN,
    EndFeeScheduleIn,
    FeeScheduleIn,
    FeeScheduleOut,
    FeeScheduleRateOut,
    PayerIn,
    PayerOut,
    PayerPatch,
)
from services.core.auth import ROLES, allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.payers import service

NameQuery = Annotated[
    str | None, QueryParameter(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
CptQuery = Annotated[str | None, QueryParameter(pattern=CPT_PATTERN)]


class PayersController(Controller):
    path = "/payers"
    tags = ["payers"]

    @post("/", guards=[allow("ops")], operation_id="create_payer", status_code=201)
    async def create(self, data: JSONBody[PayerIn], conn: Conn) -> PayerOut:
        """Add a payer the platform bills."""
        return await service.create_payer(conn, data)

    @patch("/{payer_id:uuid}", guards=[allow("ops")], operation_id="update_payer")
    async def update(
        self, payer_id: FromPath[uuid.UUID], data: JSONBody[PayerPatch], conn: Conn
    ) -> PayerOut:
        """Change some of a payer's fields."""
        return await service.update_payer(conn, payer_id, data)

    @get("/", guards=[allow(*ROLES)], operation_id="list_payers")
    async def list(
        self,
        conn: Conn,
        q: NameQuery = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[PayerOut]:
        """Payers, oldest first; `q` keeps those whose name contains it."""
        return await service.list_payers(conn, q, limit, cursor)

    @get("/{payer_id:uuid}", guards=[allow(*ROLES)], operation_id="get_payer")
    async def get(self, payer_id: FromPath[uuid.UUID], conn: Conn) -> PayerOut:
        """One payer."""
        return await service.get_payer(conn, payer_id)


class FeeSchedulesController(Controller):
    path = "/payers/{payer_id:uuid}/fee-schedules"
    tags = ["payers"]

    @post("/", guards=[allow("ops")], operation_id="create_fee_schedule", status_code=201)
    async def create(
        self,
        payer_id: FromPath[uuid.UUID],
        data: JSONBody[FeeScheduleIn],
        conn: Conn,
        actor: Caller,
    ) -> FeeScheduleOut:
        """Add a dated rate for one CPT code and modifier; ranges of one key never overlap."""
        return await service.create_fee_schedule(conn, actor, payer_id, data)

    @get("/", guards=[allow("ops", "provider")], operation_id="list_fee_schedules")
    async def list(
        self,
        payer_id: FromPath[uuid.UUID],
        conn: Conn,
        actor: Caller,
        cpt_code: CptQuery = None,
        as_of: FromQuery[date | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[FeeScheduleOut | FeeScheduleRateOut]:
        """A payer's fee schedules, oldest first; `as_of` keeps those in force that day."""
        return await service.list_fee_schedules(
            conn, actor, payer_id, cpt_code, as_of, limit, cursor
        )

    @get(
        "/{fee_schedule_id:uuid}",
        guards=[allow("ops", "provider")],
        operation_id="get_fee_schedule",
    )
    async def get(
        self,
        payer_id: FromPath[uuid.UUID],
        fee_schedule_id: FromPath[uuid.UUID],
        conn: Conn,
        actor: Caller,
    ) -> FeeScheduleOut | FeeScheduleRateOut:
        """One fee schedule row (providers see their rate, not the payer's allowed amount)."""
        return await service.get_fee_schedule(conn, actor, payer_id, fee_schedule_id)

    @post(
        "/{fee_schedule_id:uuid}/end",
        guards=[allow("ops")],
        operation_id="end_fee_schedule",
        status_code=200,
    )
    async def end(
        self,
        payer_id: FromPath[uuid.UUID],
        fee_schedule_id: FromPath[uuid.UUID],
        data: JSONBody[EndFeeScheduleIn],
        conn: Conn,
        actor: Caller,
    ) -> FeeScheduleOut:
        """End a fee schedule earlier, on `effective_to` (inclusive); it may only shorten."""
        return await service.end_fee_schedule(
            conn, actor, payer_id, fee_schedule_id, data.effective_to
        )
