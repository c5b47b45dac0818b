"""/providers/{id}/payout-account, /providers/{id}/payout-schedule, payout holds, top-ups, the
trial balance and its checks."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from schemas.ledger import TrialBalance
from schemas.payouts import (
    PayoutAccountOut,
    PayoutHoldIn,
    PayoutHoldOut,
    PayoutScheduleIn,
    PayoutScheduleOut,
    ReleaseHoldIn,
    TopUpIn,
    TopUpOut,
    TrialBalanceCheckOut,
)
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import AppSettings, Caller, Conn, Transactions
from services.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from services.payouts import accounts, schedules, top_ups, trial_balance
from services.payouts.connect import ConnectGateway, HasStripeClient

Stripe: TypeAlias = NamedDependency[HasStripeClient]
PROVIDER_OR_OPS = [allow("provider", "ops")]
# Schedules, holds, top-ups and the ledger's totals are the platform's decisions and books.
OPS = [allow("ops")]


class PayoutAccountController(Controller):
    path = "/providers/{provider_id:uuid}"
    tags = ["payouts"]

    @post("/payout-account", guards=PROVIDER_OR_OPS, operation_id="create_payout_account",
          status_code=201)  # fmt: skip
    async def create(
        self, provider_id: FromPath[uuid.UUID], transactions: Transactions, stripe: Stripe,
        actor: Caller, settings: AppSettings,
    ) -> Response[PayoutAccountOut]:  # fmt: skip
        """The provider's Stripe Connect account, created once, with a fresh onboarding link:
        201 when made now, 200 when it existed (a repeat is safe; 503 when Stripe did not
        answer: try again)."""
        account, made = await accounts.create_payout_account(
            transactions, ConnectGateway.of(stripe), actor, provider_id, settings.app_url
        )
        return Response(account, status_code=201 if made else 200)

    @get("/payout-account", guards=PROVIDER_OR_OPS, operation_id="get_payout_account")
    async def show(
        self, provider_id: FromPath[uuid.UUID], transactions: Transactions, stripe: Stripe,
        actor: Caller,
    ) -> PayoutAccountOut:  # fmt: skip
        """The account's status, re-read from Stripe (as Stripe said it last, at synced_at,
        when Stripe does not answer): charges and payouts enabled, what Stripe still needs
        (requirements due)."""
        return await accounts.get_payout_account(
            transactions, ConnectGateway.of(stripe), actor, provider_id
        )

    @get("/payout-schedule", guards=PROVIDER_OR_OPS, operation_id="get_payout_schedule")
    async def schedule(
        self, provider_id: FromPath[uuid.UUID], conn: Conn, actor: Caller, settings: AppSettings
    ) -> PayoutScheduleOut:
        """The schedule in force and its history, open holds, the next payout's date and the
        amount the ledger says it would pay."""
        return await schedules.get_payout_schedule(
            conn, actor, provider_id, settings.session_edit_window_hours
        )

    @put("/payout-schedule", guards=OPS, operation_id="set_payout_schedule")
    async def set_schedule(
        self, provider_id: FromPath[uuid.UUID], data: JSONBody[PayoutScheduleIn], conn: Conn,
        actor: Caller, settings: AppSettings,
    ) -> PayoutScheduleOut:  # fmt: skip
        """A new schedule, in force from now (audited; the old ones kept as history)."""
        return await schedules.set_payout_schedule(
            conn, actor, provider_id, data, settings.session_edit_window_hours
        )

    @post("/payout-holds", guards=OPS, operation_id="place_payout_hold", status_code=201)
    async def hold(
        self, provider_id: FromPath[uuid.UUID], data: JSONBody[PayoutHoldIn], conn: Conn,
        actor: Caller, idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[PayoutHoldOut]:  # fmt: skip
        """Hold the provider's payouts, with a reason, until released."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, "place_payout_hold", data, 201,
            lambda: schedules.place_hold(conn, actor, provider_id, data), PayoutHoldOut,
        )  # fmt: skip


class PayoutHoldController(Controller):
    path = "/payout-holds"
    tags = ["payouts"]

    @post("/{hold_id:uuid}/release", guards=OPS, operation_id="release_payout_hold",
          status_code=200)  # fmt: skip
    async def release(
        self, hold_id: FromPath[uuid.UUID], data: JSONBody[ReleaseHoldIn], conn: Conn,
        actor: Caller,
    ) -> PayoutHoldOut:  # fmt: skip
        """Release a hold (409 if it was released before)."""
        return await schedules.release_hold(conn, actor, hold_id, data)


class TopUpController(Controller):
    path = "/payouts/top-ups"
    tags = ["payouts"]

    @post("/", guards=OPS, operation_id="create_top_up", status_code=201)
    async def create(
        self, data: JSONBody[TopUpIn], conn: Conn, actor: Caller,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> Response[TopUpOut]:  # fmt: skip
        """Move money from the bank to the platform's Stripe balance: recorded now, sent to
        Stripe by a job; booked (Dr stripe_balance, Cr bank) once Stripe says it succeeded."""
        return await idempotency.respond_once(
            conn, actor.user, idempotency_key, "create_top_up", data, 201,
            lambda: top_ups.request_top_up(conn, actor, data), TopUpOut,
        )  # fmt: skip

    @get("/", guards=OPS, operation_id="list_top_ups")
    async def list(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[TopUpOut]:
        """Top-ups, newest first."""
        return await top_ups.list_top_ups(conn, limit, cursor)


class LedgerController(Controller):
    path = "/ledger"
    tags = ["ledger"]

    @get("/trial-balance", guards=OPS, operation_id="get_trial_balance")
    async def trial(self, conn: Conn) -> TrialBalance:
        """Every account's debits and credits; imbalance_cents is 0 when the ledger is sound."""
        return await trial_balance.get_trial_balance(conn)

    @get("/trial-balance/checks", guards=OPS, operation_id="list_trial_balance_checks")
    async def checks(
        self, conn: Conn, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None
    ) -> Page[TrialBalanceCheckOut]:
        """The daily checks, newest first."""
        return await trial_balance.list_checks(conn, limit, cursor)
