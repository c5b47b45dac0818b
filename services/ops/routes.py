"""/ops/digest (a day's digest made now) and /ops/digests (those the morning job stored)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from schemas.ops import OpsDigestOut, StoredDigestOut, StoredDigestRow
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.ops import service

OPS = [allow("ops")]
DayQuery = Annotated[
    date | None,
    QueryParameter(description="a UTC calendar day, YYYY-MM-DD (default: yesterday)"),
]


class OpsDigestController(Controller):
    path = "/ops"
    tags = ["ops"]

    @get("/digest", guards=OPS, operation_id="get_ops_digest")
    async def digest(
        self, conn: Conn, actor: Caller, settings: AppSettings, day: DayQuery = None
    ) -> OpsDigestOut:
        """A day's 835s (files, payments, claims, paid, PLB, patient responsibility, denials,
        reversals) and the work waiting for ops now, with the filing deadlines near."""
        return await service.compute_digest(conn, settings, actor, day or service.yesterday())

    @get("/digests", guards=OPS, operation_id="list_ops_digests")
    async def stored(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[StoredDigestRow]:
        """The digests the morning job stored, newest first."""
        return await service.list_stored(conn, limit, cursor)

    @get("/digests/{day:date}", guards=OPS, operation_id="get_stored_ops_digest")
    async def stored_day(self, day: FromPath[date], conn: Conn, actor: Caller) -> StoredDigestOut:
        """The digest stored for a day (404 when the job stored none)."""
        return await service.get_stored(conn, actor, day)
