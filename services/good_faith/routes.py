"""Good Faith Estimates: a client's list, one estimate, one on request, ops' exceeded queue."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody

from schemas.good_faith import GoodFaithEstimateOut, GoodFaithExceededOut, GoodFaithRequestIn
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.good_faith import service


class GoodFaithController(Controller):
    path = "/"
    tags = ["good-faith-estimates"]

    @get(
        "/clients/{client_id:uuid}/good-faith-estimates",
        guards=[allow("ops", "provider", "client")],
        operation_id="list_good_faith_estimates",
    )
    async def list_(
        self,
        client_id: FromPath[uuid.UUID],
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[GoodFaithEstimateOut]:
        """The client's estimates, every version (a provider sees their own)."""
        return await service.list_for_client(conn, actor, client_id, cursor, limit)

    @get(
        "/good-faith-estimates/{estimate_id:uuid}",
        guards=[allow("ops", "provider", "client")],
        operation_id="get_good_faith_estimate",
    )
    async def get_one(
        self, estimate_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> GoodFaithEstimateOut:
        """One estimate: its client, its provider, or ops."""
        return await service.get_estimate(conn, actor, estimate_id)

    @post(
        "/good-faith-estimates",
        guards=[allow("ops", "provider", "client")],
        operation_id="request_good_faith_estimate",
    )
    async def request(
        self,
        data: JSONBody[GoodFaithRequestIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[GoodFaithEstimateOut]:
        """An estimate on request, emailed to the client; a repeat with the same
        Idempotency-Key gets the first answer."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            "request_good_faith_estimate",
            data,
            201,
            lambda: service.request_estimate(conn, actor, data),
            GoodFaithEstimateOut,
        )

    @get(
        "/good-faith-estimates/queues/exceeded",
        guards=[allow("ops")],
        operation_id="list_good_faith_exceeded",
    )
    async def exceeded(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[GoodFaithExceededOut]:
        """Courses billed $400 or more above their estimate: the client may dispute."""
        return await service.list_exceeded(conn, actor, cursor, limit)
