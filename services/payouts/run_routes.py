"""/payouts (ops: the payouts, their runs, a re-run) and /providers/{id}/payouts (a provider's
own payouts)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from schemas.payout_runs import (
    CancelPayoutIn,
    PayoutDetailOut,
    PayoutOut,
    PayoutRef,
    PayoutRunIn,
    PayoutRunOut,
    PayoutStatus,
)
from schemas.payout_statements import PayoutStatementOut
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn, Transactions
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.payouts import cancel, run_now, runs, statements
from services.payouts.connect import ConnectGateway
from services.payouts.routes import Stripe

OPS = [allow("ops")]
PROVIDER_OR_OPS = [allow("provider", "ops")]
StatusQuery = Annotated[PayoutStatus | None, QueryParameter(description="the payouts' status")]
ProviderQuery = Annotated[uuid.UUID | None, QueryParameter(description="one provider's")]
PeriodQuery = Annotated[
    date | None, QueryParameter(description="the run date (the period's end), YYYY-MM-DD")
]
CSV, PDF = "text/csv", "application/pdf"
Accept = Annotated[
    str | None,
    HeaderParameter(
        name="Accept", max_length=1000,
        description="text/csv: the statement as CSV; application/pdf: as a PDF; else JSON",
    ),
]  # fmt: skip
AS_DOCUMENT = {
    200: ResponseSpec(
        PayoutStatementOut,
        description="The statement: JSON, or with `Accept: text/csv` CSV, or with"
        " `Accept: application/pdf` a PDF document",
    )
}


@dataclass
class StatementOperation(Operation):
    """The OpenAPI of a statement read: its 200 is JSON, CSV or a PDF (Litestar documents one
    media type)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            binary = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]
            ok.content[PDF] = OpenAPIMediaType(schema=binary)
            ok.content[CSV] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


def _rules(settings: AppSettings) -> runs.RunRules:
    return runs.RunRules(settings.session_edit_window_hours, settings.payout_minimum_cents)


class PayoutController(Controller):
    path = "/"
    tags = ["payouts"]

    @get("/payouts", guards=OPS, operation_id="list_payouts")
    async def list(
        self, conn: Conn, actor: Caller, status: StatusQuery = None,
        provider: ProviderQuery = None, period: PeriodQuery = None,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[PayoutOut]:  # fmt: skip
        """Payouts, newest first, by status, provider and run date."""
        return await runs.list_payouts(conn, actor, (status, provider, period), limit, cursor)

    @get("/payouts/{payout_id:uuid}", guards=PROVIDER_OR_OPS, operation_id="get_payout")
    async def show(
        self, payout_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> PayoutDetailOut:
        """A payout and its statement lines (a provider: only their own)."""
        return await runs.get_payout(conn, actor, payout_id)

    @get("/payouts/{payout_id:uuid}/statement", guards=PROVIDER_OR_OPS,
         operation_id="get_payout_statement", responses=AS_DOCUMENT,
         operation_class=StatementOperation)  # fmt: skip
    async def statement(
        self, payout_id: FromPath[uuid.UUID], conn: Conn, actor: Caller, settings: AppSettings,
        accept: Accept = None,
    ) -> Response[PayoutStatementOut]:  # fmt: skip
        """A payout's statement: a line per session (date of service, client initials, CPT,
        rate) and per adjustment, adding up to the payout (a provider: only their own)."""
        found = await statements.get_statement(conn, settings, actor, payout_id)
        wanted = (accept or "").lower()
        name = f"payout-{found.run_date.isoformat()}-{payout_id}"
        if CSV in wanted:
            disposition = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
            return Response(statements.to_csv(found), media_type="text/csv; charset=utf-8",  # type: ignore[arg-type]
                            headers=disposition)  # fmt: skip
        if PDF in wanted:
            disposition = {"Content-Disposition": f'inline; filename="{name}.pdf"'}
            return Response(statements.to_pdf(settings, found), media_type=PDF,  # type: ignore[arg-type]
                            headers=disposition)  # fmt: skip
        return Response(found)

    @post("/payouts/{payout_id:uuid}/retry", guards=OPS, operation_id="retry_payout",
          status_code=200)  # fmt: skip
    async def retry(
        self, payout_id: FromPath[uuid.UUID], conn: Conn, actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[PayoutDetailOut]:  # fmt: skip
        """A held or failed payout sent again, its amount as frozen (409 for any other; a
        repeat under the same Idempotency-Key gets the first answer)."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, "retry_payout", PayoutRef(payout_id=payout_id),
            200, lambda: runs.retry_payout(conn, actor, payout_id), PayoutDetailOut,
        )  # fmt: skip

    @post("/payouts/{payout_id:uuid}/cancel", guards=OPS, operation_id="cancel_payout",
          status_code=200)  # fmt: skip
    async def cancel(
        self, payout_id: FromPath[uuid.UUID], data: JSONBody[CancelPayoutIn],
        transactions: Transactions, stripe: Stripe, actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[PayoutDetailOut]:  # fmt: skip
        """A failed or held payout that never reached Stripe cancelled, with a reason: its
        money is owed to the provider again and paid by their next payout. Stripe is asked
        first: a transfer it made is recorded, not cancelled (409, as for any other state;
        503 when Stripe does not answer: try again)."""
        status, out = await cancel.cancel_payout(
            transactions, ConnectGateway.of(stripe), actor, payout_id, data, idempotency_key
        )
        return Response(out, status_code=status)

    @get("/payouts/runs", guards=OPS, operation_id="list_payout_runs")
    async def list_runs(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[PayoutRunOut]:
        """Run dates, newest first: their payouts' totals (cancelled ones apart: their count
        and cents, owed again), how many paid, pending, held, failed, and how many providers
        were due but owed less than the minimum."""
        return await runs.list_runs(conn, limit, cursor)

    @post("/payouts/runs", guards=OPS, operation_id="run_payouts", status_code=201)
    async def run(
        self, data: JSONBody[PayoutRunIn], transactions: Transactions, stripe: Stripe,
        actor: Caller, settings: AppSettings, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[PayoutRunOut]:  # fmt: skip
        """Run a date's payouts now (the daily job's work, the providers' Connect accounts
        re-read from Stripe first; a repeat pays no one twice)."""
        status, out = await run_now.run_now(
            transactions, ConnectGateway.of(stripe), actor, data, _rules(settings),
            idempotency_key,
        )  # fmt: skip
        return Response(out, status_code=status)

    @get("/providers/{provider_id:uuid}/payouts", guards=PROVIDER_OR_OPS,
         operation_id="list_provider_payouts")  # fmt: skip
    async def provider_payouts(
        self, provider_id: FromPath[uuid.UUID], conn: Conn, actor: Caller,
        status: StatusQuery = None, limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[PayoutOut]:  # fmt: skip
        """The provider's payouts, newest first (another provider's: 404)."""
        return await runs.list_payouts(conn, actor, (status, provider_id, None), limit, cursor)
