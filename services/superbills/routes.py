"""Superbills of a session or a month (JSON, or PDF with `Accept: application/pdf`) and the
client's choice of the monthly superbill email."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.params import FromPath, HeaderParameter, JSONBody, PathParameter

from schemas.superbills import SuperbillOut, SuperbillPreferencesIn, SuperbillPreferencesOut
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.errors import PROBLEM_JSON
from services.superbills import document, service

PDF = "application/pdf"
Month = Annotated[str, PathParameter(pattern=r"^[0-9]{4}-[0-9]{2}$", max_length=7)]
Accept = Annotated[
    str | None,
    HeaderParameter(
        name="Accept",
        max_length=1000,
        description="application/pdf: the superbill as a PDF (the document for the insurer, "
        "with the provider's full tax id); anything else: JSON (the tax id's last four digits)",
    ),
]
AS_PDF = {
    200: ResponseSpec(
        SuperbillOut,
        description="The superbill: JSON, or with `Accept: application/pdf` a PDF document",
    )
}


@dataclass
class SuperbillOperation(Operation):
    """The OpenAPI of a superbill read: its 200 is JSON or a PDF (Litestar documents one media
    type), and a session that has no superbill answers 409."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            binary = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
            ok.content[PDF] = OpenAPIMediaType(schema=binary)
        if self.responses is not None and self.operation_id == "get_session_superbill":
            problem = Reference(ref="#/components/schemas/ProblemDetails")
            self.responses["409"] = OpenAPIResponse(
                description="The session has no superbill: billed to the insurer (a claim), "
                "not completed, or its coverage held by ops",
                content={PROBLEM_JSON: OpenAPIMediaType(schema=problem)},
            )


async def _answer(
    conn: Conn, settings: AppSettings, superbill: SuperbillOut, accept: str | None, name: str
) -> Response[SuperbillOut]:
    if accept is None or PDF not in accept.lower():
        return Response(superbill)
    pdf = await document.render(conn, settings, superbill)
    disposition = f'inline; filename="{name}.pdf"'
    return Response(pdf, media_type=PDF, headers={"Content-Disposition": disposition})  # type: ignore[arg-type]


class SuperbillController(Controller):
    path = "/"
    tags = ["superbills"]

    @get(
        "/therapy-sessions/{session_id:uuid}/superbill",
        guards=[allow("ops", "provider", "client")],
        operation_id="get_session_superbill",
        responses=AS_PDF,
        operation_class=SuperbillOperation,
    )
    async def session(
        self, session_id: FromPath[uuid.UUID], conn: Conn, actor: Caller,
        settings: AppSettings, accept: Accept = None,
    ) -> Response[SuperbillOut]:  # fmt: skip
        """A self-pay or out-of-network session's superbill (409 for a session billed to the
        insurer, not completed, or held); its client, its provider, ops."""
        superbill = await service.get_session_superbill(conn, settings, actor, session_id)
        return await _answer(conn, settings, superbill, accept, f"superbill-{session_id}")

    @get(
        "/clients/{client_id:uuid}/superbills/{month:str}",
        guards=[allow("ops", "provider", "client")],
        operation_id="get_month_superbill",
        responses=AS_PDF,
        operation_class=SuperbillOperation,
    )
    async def month(
        self, client_id: FromPath[uuid.UUID], month: Month, conn: Conn, actor: Caller,
        settings: AppSettings, accept: Accept = None,
    ) -> Response[SuperbillOut]:  # fmt: skip
        """A month's superbill (YYYY-MM, the platform's statement time zone): every self-pay
        or out-of-network session of the client in it (a provider: only their own)."""
        superbill = await service.get_month_superbill(conn, settings, actor, client_id, month)
        return await _answer(conn, settings, superbill, accept, f"superbill-{month}")

    @get(
        "/clients/{client_id:uuid}/superbill-preferences",
        guards=[allow("ops", "client")],
        operation_id="get_superbill_preferences",
    )
    async def preferences(
        self, client_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> SuperbillPreferencesOut:
        """Whether the client gets each month's superbill by email."""
        return await service.get_preferences(conn, actor, client_id)

    @put(
        "/clients/{client_id:uuid}/superbill-preferences",
        guards=[allow("ops", "client")],
        operation_id="set_superbill_preferences",
    )
    async def set_preferences(
        self, client_id: FromPath[uuid.UUID], data: JSONBody[SuperbillPreferencesIn],
        conn: Conn, actor: Caller,
    ) -> SuperbillPreferencesOut:  # fmt: skip
        """Opt in to (or out of) the monthly superbill email, sent from the month after."""
        return await service.set_preferences(conn, actor, client_id, data)
