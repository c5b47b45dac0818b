"""/prior-authorizations: ops record and read them; a provider reads their clients'."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from schemas.prior_authorizations import PriorAuthorizationIn, PriorAuthorizationOut
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.prior_authorizations import service


class PriorAuthorizationController(Controller):
    path = "/prior-authorizations"
    tags = ["prior-authorizations"]

    @post(
        "/",
        guards=[allow("ops")],
        operation_id="create_prior_authorization",
        status_code=201,
    )
    async def create(
        self, data: JSONBody[PriorAuthorizationIn], conn: Conn, actor: Caller
    ) -> PriorAuthorizationOut:
        """Record a payer's prior authorization for a client."""
        return await service.create_authorization(conn, actor, data)

    @get("/", guards=[allow("ops", "provider")], operation_id="list_prior_authorizations")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        client_id: FromQuery[uuid.UUID | None] = None,
        payer_id: FromQuery[uuid.UUID | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[PriorAuthorizationOut]:
        """Authorizations the caller may see (a provider: their clients')."""
        return await service.list_authorizations(conn, actor, client_id, payer_id, cursor, limit)

    @get(
        "/{authorization_id:uuid}",
        guards=[allow("ops", "provider")],
        operation_id="get_prior_authorization",
    )
    async def get_one(
        self, authorization_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> PriorAuthorizationOut:
        """One prior authorization with its visits used."""
        return await service.get_authorization(conn, actor, authorization_id)
