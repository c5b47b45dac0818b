"""/remittances/refusals and /remittances/queues/awaiting-correction: what ops settle after the
835 posting (refused files, reversals with no correction). Ops only."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from schemas.remittance_ops import (
    AwaitingCorrectionOut,
    RefusalFilter,
    RefusalOut,
    RefusalResolutionIn,
)
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.remittance import ops_queues

OPS = [allow("ops")]
StatusQuery = Annotated[
    RefusalFilter, QueryParameter(description="open (the default), resolved, or all")
]


class RemittanceOpsController(Controller):
    path = "/remittances"
    tags = ["remittance"]

    @get("/refusals", guards=OPS, operation_id="list_remittance_refusals")
    async def refusals(
        self, conn: Conn, actor: Caller, status: StatusQuery = "open",
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[RefusalOut]:  # fmt: skip
        """835s the clearinghouse served that the posting refused (nothing in them posted),
        each with where it broke, oldest first."""
        return await ops_queues.list_refusals(conn, actor, status, limit, cursor)

    @post(
        "/refusals/{refusal_id:uuid}/resolve",
        guards=OPS,
        operation_id="resolve_remittance_refusal",
        status_code=200,
    )
    async def resolve(
        self,
        refusal_id: FromPath[uuid.UUID],
        data: JSONBody[RefusalResolutionIn],
        conn: Conn,
        actor: Caller,
    ) -> RefusalOut:
        """Dismiss a refused file once it is settled with the payer, with a note (409 when
        it was resolved already)."""
        return await ops_queues.resolve_refusal(conn, actor, refusal_id, data)

    @get(
        "/queues/awaiting-correction",
        guards=OPS,
        operation_id="list_remittance_awaiting_correction",
    )
    async def awaiting_correction(
        self, conn: Conn, actor: Caller, settings: AppSettings,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[AwaitingCorrectionOut]:  # fmt: skip
        """Claims the payer reversed (CLP02 22) with no correction since, reversed longer ago
        than reversal_correction_days, longest waiting first."""
        days = settings.reversal_correction_days
        return await ops_queues.list_awaiting_correction(conn, actor, days, limit, cursor)
