"""/claims for providers and ops, the ops queues, and a session's claim status for its client.

A client reads their claim through the session (`/therapy-sessions/{id}/claim`): clients know
their sessions, not claims, and a field on the session list would join claims into every
session read and widen SessionOut for every caller. The claims domain serves the path, so the
therapy_sessions domain stays unaware of claims.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from schemas.claims import (
    ClaimCorrectionIn,
    ClaimDetailOut,
    ClaimStatus,
    ClaimSummaryOut,
    ClaimVersionOut,
    ClaimVoidIn,
    CorrectionOut,
    NeedsOpsClaimOut,
    OpsResolutionIn,
    OpsResolutionOut,
    RejectedClaimOut,
    SessionClaimOut,
)
from services.claims import corrections, service
from services.core import idempotency
from services.core.auth import Actor, allow
from services.core.deps import Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page


class ClaimController(Controller):
    path = "/claims"
    tags = ["claims"]

    @get("/", guards=[allow("ops", "provider")], operation_id="list_claims")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        status: FromQuery[ClaimStatus | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[ClaimSummaryOut]:
        """Claims the caller may see (a provider: theirs), by status."""
        return await service.list_claims(conn, actor, status, cursor, limit)

    @get("/{claim_id:uuid}", guards=[allow("ops", "provider")], operation_id="get_claim")
    async def get_one(
        self, claim_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> ClaimDetailOut:
        """One claim with its lines, status history and filing deadline."""
        return await service.get_claim_detail(conn, actor, claim_id)

    @get("/{claim_id:uuid}/versions", guards=[allow("ops")], operation_id="list_claim_versions")
    async def versions(
        self, claim_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> list[ClaimVersionOut]:
        """A claim's versions (original, corrected, replacement, void) with their CLM01."""
        return await service.list_versions(conn, actor, claim_id)

    @get("/queues/rejected", guards=[allow("ops")], operation_id="list_rejected_claims")
    async def rejected(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[RejectedClaimOut]:
        """Rejected claims to correct, with the reason the history kept."""
        return await service.list_rejected(conn, actor, cursor, limit)

    @get(
        "/queues/filing-deadline",
        guards=[allow("ops")],
        operation_id="list_filing_deadline_claims",
    )
    async def filing_deadline(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[ClaimSummaryOut]:
        """Claims flagged near their payer's filing limit, not yet accepted; soonest first."""
        return await service.list_filing_deadlines(conn, actor, cursor, limit)

    @get("/queues/needs-ops", guards=[allow("ops")], operation_id="list_needs_ops_claims")
    async def needs_ops(
        self,
        conn: Conn,
        actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[NeedsOpsClaimOut]:
        """Claims flagged for ops with what raised the flag and since when; longest first."""
        return await service.list_needs_ops(conn, actor, cursor, limit)

    @post(
        "/{claim_id:uuid}/ops-resolution",
        guards=[allow("ops")],
        operation_id="resolve_claim_ops_flag",
        status_code=200,
    )
    async def resolve(
        self,
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[OpsResolutionIn],
        conn: Conn,
        actor: Caller,
    ) -> OpsResolutionOut:
        """Lower the claim's flag for ops with a note, kept in the claim's history."""
        return await service.resolve_ops_flag(conn, actor, claim_id, data)

    # Corrections (issue 15 item 6): services/claims/corrections.py says who may do what.

    @post("/{claim_id:uuid}/resend", guards=[allow("ops", "provider")], operation_id="resend_claim")
    async def resend(
        self,
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[ClaimCorrectionIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CorrectionOut]:
        """A rejected claim corrected and sent again (frequency 1)."""
        return await _once(
            conn, actor, idempotency_key, f"resend_claim:{claim_id}", data,
            lambda: corrections.resend_claim(conn, actor, claim_id, data),
        )  # fmt: skip

    @post(
        "/{claim_id:uuid}/replace", guards=[allow("ops", "provider")], operation_id="replace_claim"
    )
    async def replace(
        self,
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[ClaimCorrectionIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CorrectionOut]:
        """An accepted claim replaced by its corrected whole (frequency 7, REF*F8)."""
        return await _once(
            conn, actor, idempotency_key, f"replace_claim:{claim_id}", data,
            lambda: corrections.replace_claim(conn, actor, claim_id, data),
        )  # fmt: skip

    @post("/{claim_id:uuid}/void", guards=[allow("ops", "provider")], operation_id="void_claim")
    async def void(
        self,
        claim_id: FromPath[uuid.UUID],
        data: JSONBody[ClaimVoidIn],
        conn: Conn,
        actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[CorrectionOut]:
        """An accepted claim withdrawn (frequency 8, REF*F8)."""
        return await _once(
            conn, actor, idempotency_key, f"void_claim:{claim_id}", data,
            lambda: corrections.void_claim(conn, actor, claim_id, data),
        )  # fmt: skip


async def _once(
    conn: asyncpg.Connection,
    actor: Actor,
    key: str | None,
    operation: str,
    data: msgspec.Struct,
    use_case: Callable[[], Awaitable[CorrectionOut]],
) -> Response[CorrectionOut]:
    """A correction once per Idempotency-Key: a repeat gets the first answer."""
    return await idempotency.respond_once(
        conn, actor.user, key, operation, data, 200, use_case, CorrectionOut
    )


class SessionClaimController(Controller):
    path = "/therapy-sessions/{session_id:uuid}/claim"
    tags = ["claims"]

    @get("/", guards=[allow("ops", "provider", "client")], operation_id="get_therapy_session_claim")
    async def get_one(
        self, session_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> list[SessionClaimOut]:
        """Where the session's claim stands (one per payer), without the payer's details."""
        return await service.get_session_claims(conn, actor, session_id)
