"""/true-ups (ops read and decide; a client reads their own) and /remittances/estimate-accuracy."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from schemas.true_ups import (
    EstimateAccuracyOut,
    TrueUpDecision,
    TrueUpDecisionIn,
    TrueUpOut,
    TrueUpStatus,
)
from services.core import idempotency
from services.core.auth import Actor, allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.remittance import accuracy, true_up_ops

OPS = [allow("ops")]
DateFrom = Annotated[
    date | None,
    QueryParameter(name="from", description="first 835 payment date (default: 89 days before to)"),
]
DateTo = Annotated[
    date | None, QueryParameter(name="to", description="last 835 payment date (default: today)")
]


async def _decide(
    conn: Conn,
    actor: Actor,
    true_up_id: uuid.UUID,
    data: TrueUpDecisionIn,
    decision: TrueUpDecision,
    idempotency_key: str | None,
) -> Response[TrueUpOut]:
    return await idempotency.respond_once(
        conn,
        actor.user,
        idempotency_key,
        f"{decision}_true_up:{true_up_id}",
        data,
        200,
        lambda: true_up_ops.decide_true_up(conn, actor, true_up_id, decision, data.note),
        TrueUpOut,
    )


class TrueUpController(Controller):
    path = "/true-ups"
    tags = ["remittance"]

    @get("/", guards=OPS, operation_id="list_true_ups")
    async def list(
        self, conn: Conn, actor: Caller, status: FromQuery[TrueUpStatus | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[TrueUpOut]:  # fmt: skip
        """Client true-ups, oldest first, of one status (ops_review: ops' queue) or all."""
        return await true_up_ops.list_true_ups(conn, actor, status, limit, cursor)

    @get("/{true_up_id:uuid}", guards=[allow("ops", "client")], operation_id="get_true_up")
    async def show(self, true_up_id: FromPath[uuid.UUID], conn: Conn, actor: Caller) -> TrueUpOut:
        """One true-up: what the 835 says the client owes against the estimate, and why."""
        return await true_up_ops.get_true_up(conn, actor, true_up_id)

    @post("/{true_up_id:uuid}/confirm", guards=OPS, operation_id="confirm_true_up")
    async def confirm(
        self, true_up_id: FromPath[uuid.UUID], data: JSONBody[TrueUpDecisionIn], conn: Conn,
        actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[TrueUpOut]:  # fmt: skip
        """The client owes the other patient responsibility too: the true-up is ready (409
        unless in ops_review; a repeat with the same Idempotency-Key gets the first answer)."""
        return await _decide(conn, actor, true_up_id, data, "confirmed", idempotency_key)

    @post("/{true_up_id:uuid}/refuse", guards=OPS, operation_id="refuse_true_up")
    async def refuse(
        self, true_up_id: FromPath[uuid.UUID], data: JSONBody[TrueUpDecisionIn], conn: Conn,
        actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[TrueUpOut]:  # fmt: skip
        """The platform carries the other patient responsibility; the rest is ready, or the
        true-up closes (409 unless in ops_review; Idempotency-Key replays the first answer)."""
        return await _decide(conn, actor, true_up_id, data, "refused", idempotency_key)


class EstimateAccuracyController(Controller):
    path = "/remittances/estimate-accuracy"
    tags = ["remittance"]

    @get("/", guards=OPS, operation_id="get_estimate_accuracy")
    async def show(
        self, conn: Conn, date_from: DateFrom = None, date_to: DateTo = None
    ) -> EstimateAccuracyOut:
        """The 835's client share against the estimate: exact to the cent, mean absolute
        error and Σ error, overall and per payer, for 835s paid in [from, to] (at most a year)."""
        return await accuracy.get_estimate_accuracy(conn, date_from, date_to)
