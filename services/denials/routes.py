"""/denials (the ops work queue and its actions) and /appeals (ops only)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas.claims import ClaimCorrectionIn, ClaimVoidIn
from schemas.denials import (
    REASON_PATTERN,
    AppealedOut,
    AppealIn,
    AppealNoteIn,
    AppealNoteOut,
    AppealOut,
    AppealPatch,
    AppealRow,
    AppealStatus,
    CorrectedOut,
    DenialDetailOut,
    DenialQueueOut,
    ResolutionOut,
    WriteOffIn,
)
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.denials import service

OPS = [allow("ops")]
ReasonQuery = Annotated[
    str | None,
    QueryParameter(
        pattern=REASON_PATTERN, max_length=8, description="a group's reason: CO-197, PI-50, none"
    ),
]


class DenialController(Controller):
    path = "/denials"
    tags = ["denials"]

    @get("/", guards=OPS, operation_id="list_denials")
    async def queue(
        self,
        conn: Conn,
        actor: Caller,
        payer_id: FromQuery[uuid.UUID | None] = None,
        reason: ReasonQuery = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> DenialQueueOut:
        """Open denials grouped by reason (group and CARC of the largest loss), oldest first;
        `reason` and `cursor` page inside one group."""
        return await service.list_queue(conn, actor, payer_id, reason, cursor, limit)

    @get("/{remitted_claim_id:uuid}", guards=OPS, operation_id="get_denial")
    async def show(
        self, remitted_claim_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> DenialDetailOut:
        """One denial with its adjustments, resolution, appeal and history."""
        return await service.get_denial(conn, actor, remitted_claim_id)

    @post(
        "/{remitted_claim_id:uuid}/resubmit", guards=OPS, operation_id="resubmit_denial",
        status_code=200,
    )  # fmt: skip
    async def resubmit(
        self,
        remitted_claim_id: FromPath[uuid.UUID],
        data: JSONBody[ClaimCorrectionIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CorrectedOut]:
        """The corrected claim sent as a replacement (frequency 7); the denial closes."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"resubmit_denial:{remitted_claim_id}", data, 200,
            lambda: service.resubmit(conn, actor, remitted_claim_id, data), CorrectedOut,
        )  # fmt: skip

    @post("/{remitted_claim_id:uuid}/void", guards=OPS, operation_id="void_denial", status_code=200)
    async def void(
        self,
        remitted_claim_id: FromPath[uuid.UUID],
        data: JSONBody[ClaimVoidIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CorrectedOut]:
        """The claim withdrawn (frequency 8); the denial closes."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"void_denial:{remitted_claim_id}", data, 200,
            lambda: service.void(conn, actor, remitted_claim_id, data), CorrectedOut,
        )  # fmt: skip

    @post(
        "/{remitted_claim_id:uuid}/write-off", guards=OPS, operation_id="write_off_denial",
        status_code=200,
    )  # fmt: skip
    async def write_off(
        self,
        remitted_claim_id: FromPath[uuid.UUID],
        data: JSONBody[WriteOffIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[ResolutionOut]:
        """The denial closed as a loss (booked at posting; nothing new is posted)."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"write_off_denial:{remitted_claim_id}", data, 200,
            lambda: service.write_off(conn, actor, remitted_claim_id, data), ResolutionOut,
        )  # fmt: skip

    @post("/{remitted_claim_id:uuid}/appeals", guards=OPS, operation_id="appeal_denial")
    async def appeal(
        self,
        remitted_claim_id: FromPath[uuid.UUID],
        data: JSONBody[AppealIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[AppealedOut]:
        """An appeal opened (deadline: the one given, else the payer's window); it closes
        the denial."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"appeal_denial:{remitted_claim_id}", data, 201,
            lambda: service.open_appeal(conn, actor, remitted_claim_id, data), AppealedOut,
        )  # fmt: skip


class AppealController(Controller):
    path = "/appeals"
    tags = ["denials"]

    @get("/", guards=OPS, operation_id="list_appeals")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        status: FromQuery[AppealStatus | None] = None,
        due_before: FromQuery[date | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[AppealRow]:
        """Appeals, soonest deadline first; by status, and due before a day."""
        return await service.list_appeals(conn, actor, status, due_before, cursor, limit)

    @get("/{appeal_id:uuid}", guards=OPS, operation_id="get_appeal")
    async def show(self, appeal_id: FromPath[uuid.UUID], conn: Conn, actor: Caller) -> AppealOut:
        """One appeal with its notes and status changes."""
        return await service.get_appeal(conn, actor, appeal_id)

    @patch("/{appeal_id:uuid}", guards=OPS, operation_id="update_appeal")
    async def update(
        self,
        appeal_id: FromPath[uuid.UUID],
        data: JSONBody[AppealPatch],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[AppealOut]:
        """Move the appeal on: open -> submitted -> won | lost | withdrawn (409 otherwise)."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"update_appeal:{appeal_id}", data, 200,
            lambda: service.update_appeal(conn, actor, appeal_id, data), AppealOut,
        )  # fmt: skip

    @post("/{appeal_id:uuid}/notes", guards=OPS, operation_id="add_appeal_note")
    async def note(
        self,
        appeal_id: FromPath[uuid.UUID],
        data: JSONBody[AppealNoteIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[AppealNoteOut]:
        """A note appended to the appeal."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"add_appeal_note:{appeal_id}", data, 201,
            lambda: service.add_note(conn, actor, appeal_id, data), AppealNoteOut,
        )  # fmt: skip
