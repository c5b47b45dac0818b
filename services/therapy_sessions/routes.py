"""/therapy-sessions: book, list, read, cancel, no-show, complete, record an unbooked one,
edit a confirmed one's coding."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas.therapy_sessions import (
    BookSessionIn,
    CancelSessionIn,
    CompleteSessionIn,
    CompletionOut,
    CoverageHoldOut,
    CoverageSettlementOut,
    EditSessionIn,
    RecordSessionIn,
    SessionFilters,
    SessionOut,
    SessionStatus,
    SettleCoverageIn,
)
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.therapy_sessions import completion, coverage, editing, service

Since = Annotated[datetime | None, QueryParameter(name="from")]
Until = Annotated[datetime | None, QueryParameter(name="to")]


class TherapySessionController(Controller):
    path = "/therapy-sessions"
    tags = ["therapy-sessions"]

    @post("/", guards=[allow("ops", "provider", "client")], operation_id="book_therapy_session")
    async def book(
        self,
        data: JSONBody[BookSessionIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[SessionOut]:
        """Book a session; a repeat with the same Idempotency-Key gets the first answer."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            "book_therapy_session",
            data,
            201,
            lambda: service.book_session(conn, actor, data),
            SessionOut,
        )

    @get("/", guards=[allow("ops", "provider", "client")], operation_id="list_therapy_sessions")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        provider_id: FromQuery[uuid.UUID | None] = None,
        client_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[SessionStatus | None] = None,
        starts_from: Since = None,
        starts_to: Until = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[SessionOut]:
        """Sessions the caller may see, filtered; `from` <= starts_at < `to`."""
        filters = SessionFilters(
            provider_id=provider_id,
            client_id=client_id,
            status=status,
            starts_from=starts_from,
            starts_to=starts_to,
        )
        return await service.list_sessions(conn, actor, filters, cursor, limit)

    @get(
        "/{session_id:uuid}",
        guards=[allow("ops", "provider", "client")],
        operation_id="get_therapy_session",
    )
    async def get_one(
        self, session_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> SessionOut:
        """One therapy session."""
        return await service.get_session(conn, actor, session_id)

    @post(
        "/{session_id:uuid}/cancel",
        guards=[allow("ops", "provider", "client")],
        operation_id="cancel_therapy_session",
        status_code=200,
    )
    async def cancel(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[CancelSessionIn],
        conn: Conn,
        actor: Caller,
    ) -> SessionOut:
        """Cancel a scheduled session."""
        return await service.cancel_session(conn, actor, session_id, data.reason)

    @post(
        "/{session_id:uuid}/no-show",
        guards=[allow("ops", "provider")],
        operation_id="mark_therapy_session_no_show",
        status_code=200,
    )
    async def no_show(
        self, session_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> SessionOut:
        """Record that the client did not come (after the start time)."""
        return await service.mark_no_show(conn, actor, session_id)

    @post(
        "/{session_id:uuid}/complete",
        guards=[allow("ops", "provider")],
        operation_id="complete_therapy_session",
    )
    async def complete(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[CompleteSessionIn],
        conn: Conn,
        actor: Caller,
        settings: AppSettings,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CompletionOut]:
        """Confirm a scheduled session (its provider, or ops); each refused rule is a 422."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            f"complete_therapy_session:{session_id}",
            data,
            200,
            lambda: completion.complete_session(conn, settings, actor, session_id, data),
            CompletionOut,
        )

    @post("/recorded", guards=[allow("ops", "provider")], operation_id="record_therapy_session")
    async def record(
        self,
        data: JSONBody[RecordSessionIn],
        conn: Conn,
        actor: Caller,
        settings: AppSettings,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CompletionOut]:
        """Record an unbooked session that took place: booked and confirmed at once."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            "record_therapy_session",
            data,
            201,
            lambda: completion.record_session(conn, settings, actor, data),
            CompletionOut,
        )

    @patch(
        "/{session_id:uuid}",
        guards=[allow("ops", "provider")],
        operation_id="edit_therapy_session",
    )
    async def edit(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[EditSessionIn],
        conn: Conn,
        actor: Caller,
        settings: AppSettings,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CompletionOut]:
        """Correct a confirmed session's coding within the edit window, while its claim is
        unsent (409 otherwise); every completion rule applies again (422)."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            f"edit_therapy_session:{session_id}",
            data,
            200,
            lambda: editing.edit_session(conn, settings, actor, session_id, data),
            CompletionOut,
        )


class CoverageQueueController(Controller):
    """Ops' coverage queue: sessions held for a carve-out or unknown coverage, and settling."""

    path = "/therapy-sessions"
    tags = ["therapy-sessions"]

    @get("/queues/coverage", guards=[allow("ops")], operation_id="list_coverage_holds")
    async def queue(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[CoverageHoldOut]:
        """Sessions confirmed on hold, with the benefit check's status and who to ask."""
        return await coverage.list_coverage_holds(conn, actor, cursor, limit)

    @post(
        "/{session_id:uuid}/coverage-settlement",
        guards=[allow("ops")],
        operation_id="settle_therapy_session_coverage",
        status_code=200,
    )
    async def settle(
        self,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[SettleCoverageIn],
        conn: Conn,
        actor: Caller,
        settings: AppSettings,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CoverageSettlementOut]:
        """Bill a held session (after a new benefit check), or mark it self-pay or written off;
        a repeat with the same Idempotency-Key gets the first answer."""
        return await idempotency.respond_once(
            conn,
            actor.user,
            idempotency_key,
            f"settle_therapy_session_coverage:{session_id}",
            data,
            200,
            lambda: coverage.settle_coverage(conn, settings, actor, session_id, data),
            CoverageSettlementOut,
        )
