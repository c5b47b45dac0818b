"""/clients/{id}/charges, /refunds, /balance, /statements/{YYYY-MM} (the client themself and
ops; a provider: 403) and ops' /payments/failed and /payments/balances-due."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter

from schemas.payments import (
    BalanceDueOut,
    ChargeKind,
    ClientBalanceOut,
    ClientChargeOut,
    ClientRefundOut,
    FailedChargeOut,
    StatementOut,
)
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.payments import statements

CLIENT_OR_OPS = [allow("client", "ops")]
Month = Annotated[str, Parameter(pattern=r"^[0-9]{4}-[0-9]{2}$", max_length=7)]
Code = Annotated[str | None, QueryParameter(pattern=r"^[a-z0-9_]{1,100}$")]


class ClientMoneyController(Controller):
    path = "/clients/{client_id:uuid}"
    tags = ["payments"]

    @get("/charges", guards=CLIENT_OR_OPS, operation_id="list_client_charges")
    async def charges(
        self, client_id: FromPath[uuid.UUID], conn: Conn, settings: AppSettings, actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[ClientChargeOut]:  # fmt: skip
        """The client's charges, newest first: what each was for, its card and outcome."""
        return await statements.list_charges(conn, settings, actor, client_id, cursor, limit)

    @get("/refunds", guards=CLIENT_OR_OPS, operation_id="list_client_refunds")
    async def refunds(
        self, client_id: FromPath[uuid.UUID], conn: Conn, settings: AppSettings, actor: Caller,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[ClientRefundOut]:  # fmt: skip
        """The client's refunds and credits taken off a balance due, newest first."""
        return await statements.list_refunds(conn, settings, actor, client_id, cursor, limit)

    @get("/balance", guards=CLIENT_OR_OPS, operation_id="get_client_balance")
    async def balance(
        self, client_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> ClientBalanceOut:
        """Owed now, being charged or refunded, in review, credit and written off."""
        return await statements.get_balance(conn, actor, client_id)

    @get("/statements/{month:str}", guards=CLIENT_OR_OPS, operation_id="get_client_statement")
    async def statement(
        self, client_id: FromPath[uuid.UUID], month: Month, conn: Conn, settings: AppSettings,
        actor: Caller,
    ) -> StatementOut:  # fmt: skip
        """A month's statement (the platform's time zone): opening balance, each session,
        charge and refund, closing balance."""
        return await statements.get_statement(conn, settings, actor, client_id, month)


class PaymentsOpsController(Controller):
    path = "/payments"
    tags = ["payments"]

    @get("/failed", guards=[allow("ops")], operation_id="list_failed_payments")
    async def failed(
        self, conn: Conn, actor: Caller,
        status: FromQuery[Literal["failed", "balance_due"] | None] = None,
        client_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[ChargeKind | None] = None,
        code: Code = None,
        since: FromQuery[datetime | None] = None,
        include_settled: FromQuery[bool] = False,
        limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    ) -> Page[FailedChargeOut]:  # fmt: skip
        """Charges that did not go through, oldest first: Stripe refused them (failed) or
        they were never sent (balance_due: no card, under the 50¢ minimum). Those the
        client's credit settled since (recovery `paid`) only with include_settled=true."""
        filters = (status, client_id, kind, code, since, include_settled)
        return await statements.list_failed(conn, actor, filters, cursor, limit)

    @get("/balances-due", guards=[allow("ops")], operation_id="list_balances_due")
    async def balances_due(
        self, conn: Conn, actor: Caller, limit: LimitQuery = DEFAULT_LIMIT,
        cursor: CursorQuery = None,
    ) -> Page[BalanceDueOut]:  # fmt: skip
        """Each client owing something not being charged, oldest balance first."""
        return await statements.list_balances_due(conn, actor, cursor, limit)
