"""/payments/disputes and the ops queues of payment problems (failed refunds, captures not
booked), with their resolutions: ops only."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from schemas.payments import (
    DisputeOut,
    DisputeResolutionIn,
    DisputeStatus,
    FailedRefundOut,
    FailedRefundResolutionIn,
    PaymentExceptionOut,
    PaymentExceptionResolutionIn,
    QueueState,
)
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.payments import disputes, queues

OPS = [allow("ops")]


class PaymentProblemsController(Controller):
    path = "/payments"
    tags = ["payments"]

    @get("/disputes", guards=OPS, operation_id="list_disputes")
    async def list_disputes(
        self, conn: Conn, actor: Caller, status: FromQuery[DisputeStatus | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[DisputeOut]:  # fmt: skip
        """Disputes of our charges, newest first, by Stripe's status when given."""
        return await disputes.list_disputes(conn, actor, status, cursor, limit)

    @get("/disputes/{dispute_id:uuid}", guards=OPS, operation_id="get_dispute")
    async def show_dispute(
        self, dispute_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> DisputeOut:
        """One dispute: Stripe's status, evidence deadline, the money taken and given back."""
        return await disputes.get_dispute(conn, actor, dispute_id)

    @post(
        "/disputes/{dispute_id:uuid}/resolution", guards=OPS, operation_id="resolve_dispute",
        status_code=200,
    )  # fmt: skip
    async def resolve_dispute(
        self, dispute_id: FromPath[uuid.UUID], data: JSONBody[DisputeResolutionIn], conn: Conn,
        actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[DisputeOut]:  # fmt: skip
        """A lost dispute's amount collected (a balance due) or written off (bad debt)."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"resolve_dispute:{dispute_id}", data, 200,
            lambda: disputes.resolve_dispute(conn, actor, dispute_id, data), DisputeOut,
        )  # fmt: skip

    @get("/queues/failed-refunds", guards=OPS, operation_id="list_failed_refunds")
    async def failed_refunds(
        self, conn: Conn, actor: Caller, status: FromQuery[QueueState] = "open",
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[FailedRefundOut]:  # fmt: skip
        """Refunds that did not reach the client (the client is owed them), oldest first."""
        return await queues.list_failed_refunds(conn, actor, status, cursor, limit)

    @post(
        "/failed-refunds/{failed_refund_id:uuid}/resolution", guards=OPS,
        operation_id="resolve_failed_refund", status_code=200,
    )  # fmt: skip
    async def resolve_failed_refund(
        self, failed_refund_id: FromPath[uuid.UUID], data: JSONBody[FailedRefundResolutionIn],
        conn: Conn, actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[FailedRefundOut]:  # fmt: skip
        """Refunded another way (Dr client_receivable, Cr bank) or kept as the client's credit."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"resolve_failed_refund:{failed_refund_id}",
            data, 200,
            lambda: queues.resolve_failed_refund(conn, actor, failed_refund_id, data),
            FailedRefundOut,
        )  # fmt: skip

    @get("/queues/exceptions", guards=OPS, operation_id="list_payment_exceptions")
    async def exceptions(
        self, conn: Conn, actor: Caller, status: FromQuery[QueueState] = "open",
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[PaymentExceptionOut]:  # fmt: skip
        """Captures Hearth would not book (a second intent, another amount), oldest first."""
        return await queues.list_exceptions(conn, actor, status, cursor, limit)

    @post(
        "/exceptions/{exception_id:uuid}/resolution", guards=OPS,
        operation_id="resolve_payment_exception", status_code=200,
    )  # fmt: skip
    async def resolve_exception(
        self, exception_id: FromPath[uuid.UUID], data: JSONBody[PaymentExceptionResolutionIn],
        conn: Conn, actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[PaymentExceptionOut]:  # fmt: skip
        """Booked as the charge's capture (Stripe's figures) or dismissed with a note."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, f"resolve_payment_exception:{exception_id}",
            data, 200, lambda: queues.resolve_exception(conn, actor, exception_id, data),
            PaymentExceptionOut,
        )  # fmt: skip
