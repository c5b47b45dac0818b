"""/remittances (ops upload and read 835 files, and fetch now), /claims/{id}/remittance and a
session's explanation for its client (/therapy-sessions/{id}/explanation)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath

from schemas.explanations import SessionExplanationOut
from schemas.remittance_posting import (
    ClaimRemittanceOut,
    RemittanceFetchQueuedOut,
    RemittanceFileDetailOut,
    RemittanceFileOut,
    RemittanceFileRow,
    RemittedClaimQueued,
)
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.remittance import explain, ingest, service
from services.remittance.errors import NotAn835Body, Refused835

OPS = [allow("ops")]
# An 835 is sent as itself: X12 text (RFC 1767's application/EDI-X12) or plain text.
MEDIA_TYPES = ("text/plain", "application/edi-x12")


class RemittanceController(Controller):
    path = "/remittances"
    tags = ["remittance"]

    @post(
        "/",
        guards=OPS,
        operation_id="post_remittance",
        responses={200: ResponseSpec(RemittanceFileOut, description="Already posted")},
    )
    async def upload(
        self, request: Request[Any, Any, Any], conn: Conn, actor: Caller
    ) -> Response[RemittanceFileOut]:
        """Post a raw 835 file (the body): 201 with what it posted, 200 when it already was."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in MEDIA_TYPES:
            raise NotAn835Body(
                "send the 835 as text/plain or application/edi-x12", field="content-type"
            )
        body = await request.body()
        if not body.strip():
            raise Refused835("the body is empty: send the 835 file", field="body")
        out, posted = await service.post_file_on(conn, body, "upload", actor)
        return Response(out, status_code=201 if posted else 200)

    @post("/fetches", guards=OPS, operation_id="fetch_remittances_now", status_code=202)
    async def fetch_now(self, conn: Conn, settings: AppSettings) -> RemittanceFetchQueuedOut:
        """Queue the clearinghouse's 835 fetch now, as the cron would (`queued`: false when one
        is already open: repeating the call is harmless)."""
        return await ingest.fetch_now(conn, settings)

    @get("/", guards=OPS, operation_id="list_remittances")
    async def list(
        self, conn: Conn, actor: Caller, limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[RemittanceFileRow]:  # fmt: skip
        """The 835 files received, newest first."""
        return await service.list_files(conn, actor, limit, cursor)

    @get("/queues/needs-ops", guards=OPS, operation_id="list_remittance_needs_ops")
    async def needs_ops(
        self, conn: Conn, actor: Caller, limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[RemittedClaimQueued]:  # fmt: skip
        """Remitted claims ops must settle (unmatched, held, unknown CARCs), oldest first."""
        return await service.list_needs_ops(conn, actor, limit, cursor)

    @get("/{file_id:uuid}", guards=OPS, operation_id="get_remittance")
    async def show(
        self, file_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> RemittanceFileDetailOut:
        """A file's payments, claims matched and unmatched, PLBs and totals."""
        return await service.get_file(conn, actor, file_id)


class ClaimRemittanceController(Controller):
    path = "/claims/{claim_id:uuid}/remittance"
    tags = ["remittance"]

    @get("/", guards=[allow("ops", "provider")], operation_id="get_claim_remittance")
    async def show(
        self, claim_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> ClaimRemittanceOut:
        """What the payer paid, what the client owes and each adjustment with its CARC."""
        return await service.get_claim_remittance(conn, actor, claim_id)


class SessionExplanationController(Controller):
    path = "/therapy-sessions/{session_id:uuid}/explanation"
    tags = ["remittance"]

    @get(
        "/",
        guards=[allow("ops", "provider", "client")],
        operation_id="get_therapy_session_explanation",
    )
    async def show(
        self, session_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> SessionExplanationOut:
        """What the insurer paid for the session, what the client owes and why, against the
        estimate, and what happens next: plain sentences and the figures in cents."""
        return await explain.explain_session(conn, actor, session_id)
