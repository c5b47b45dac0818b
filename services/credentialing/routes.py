"""/credentialing: open records (ops), move them through their states (ops), read them."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from schemas.credentialing import (
    CredentialingDetailOut,
    CredentialingIn,
    CredentialingOut,
    CredentialingStatus,
    TransitionIn,
)
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.credentialing import service


class CredentialingController(Controller):
    path = "/credentialing"
    tags = ["credentialing"]

    @post("/", guards=[allow("ops")], operation_id="request_credentialing", status_code=201)
    async def request_credentialing(
        self, data: JSONBody[CredentialingIn], conn: Conn, actor: Caller
    ) -> CredentialingOut:
        """Open a credentialing record for a provider with a payer."""
        return await service.request_credentialing(conn, actor, data)

    @get("/", guards=[allow("ops", "provider")], operation_id="list_credentialing")
    async def list_credentialing(
        self,
        conn: Conn,
        actor: Caller,
        provider_id: FromQuery[uuid.UUID | None] = None,
        payer_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[CredentialingStatus | None] = None,
        expiring: FromQuery[bool] = False,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[CredentialingOut]:
        """Credentialing records (a provider sees only their own); `expiring` lists flagged ones."""
        filters = (provider_id, payer_id, status, expiring)
        return await service.list_records(conn, actor, filters, limit, cursor)

    @get("/{record_id:uuid}", guards=[allow("ops", "provider")], operation_id="get_credentialing")
    async def get_credentialing(
        self, record_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> CredentialingDetailOut:
        """One record with its full event history."""
        return await service.get_record(conn, actor, record_id)

    @post(
        "/{record_id:uuid}/transitions",
        guards=[allow("ops")],
        operation_id="transition_credentialing",
        status_code=200,
    )
    async def transition(
        self,
        record_id: FromPath[uuid.UUID],
        data: JSONBody[TransitionIn],
        conn: Conn,
        actor: Caller,
    ) -> CredentialingDetailOut:
        """Move a record to its next status, with a reason (and dates when approving)."""
        return await service.transition(conn, actor, record_id, data)
