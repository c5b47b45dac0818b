"""Ops' claim-submission routes: batches and their files, and "submit now".

Kept apart from routes.py (a claim's own routes): batches are the submission's records, one
per interchange, each holding many claims.
"""

from __future__ import annotations

import uuid
from typing import Annotated, TypeAlias

from litestar import Controller, MediaType, get, post
from litestar.params import FromPath, FromQuery, PathParameter

from schemas.claim_batches import (
    BatchListStatus,
    ClaimBatchDetailOut,
    ClaimBatchOut,
    SubmissionsQueuedOut,
)
from services.claims import batch_service
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

# claim_batch_files.id is a BIGINT: a larger id would overflow the parameter (a 500), not 404.
FileId: TypeAlias = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


class ClaimBatchController(Controller):
    path = "/claim-batches"
    tags = ["claims"]

    @get("/", guards=[allow("ops")], operation_id="list_claim_batches")
    async def list_(
        self,
        conn: Conn,
        actor: Caller,
        payer_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[BatchListStatus | None] = None,
        limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[ClaimBatchOut]:
        """Claim batches newest first: payer, status, control numbers, times, claim count."""
        return await batch_service.list_batches(conn, actor, payer_id, status, cursor, limit)

    @get("/{batch_id:uuid}", guards=[allow("ops")], operation_id="get_claim_batch")
    async def get_one(
        self, batch_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> ClaimBatchDetailOut:
        """One batch with its claims and the metadata of every file sent and received."""
        return await batch_service.get_batch(conn, actor, batch_id)

    @get(
        "/{batch_id:uuid}/files/{file_id:int}",
        guards=[allow("ops")],
        operation_id="get_claim_batch_file",
        media_type=MediaType.TEXT,
    )
    async def file(
        self, batch_id: FromPath[uuid.UUID], file_id: FileId, conn: Conn, actor: Caller
    ) -> str:
        """A file's body as it was sent or received (X12, or a CORE answer's payload)."""
        return await batch_service.get_batch_file(conn, actor, batch_id, file_id)


class ClaimSubmissionController(Controller):
    path = "/claims/submissions"
    tags = ["claims"]

    @post("/", guards=[allow("ops")], operation_id="submit_claims_now", status_code=202)
    async def submit_now(self, conn: Conn, settings: AppSettings) -> SubmissionsQueuedOut:
        """Queue each payer's ready claims past the hold for a batch now, as the cron would.

        A payer already queued is not queued again: repeating the call is harmless.
        """
        return await batch_service.submit_now(conn, settings)
