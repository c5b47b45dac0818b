"""create_app(): the Litestar application and its lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from arq import create_pool as create_arq_pool
from arq.connections import RedisSettings
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from services.claims.batch_routes import ClaimBatchController, ClaimSubmissionController
from services.claims.routes import ClaimController, SessionClaimController
from services.clearinghouse.client import CoreHttpClient
from services.clients.routes import ClientController, PolicyController
from services.core import clock
from services.core.auth import (
    BEARER,
    AccessCheck,
    TokenAuthMiddleware,
    TokenClaims,
    allow,
    provide_actor,
)
from services.core.db import (
    DatabaseUnreachable,
    acquire_plain,
    connection_lost,
    create_pool,
    provide_conn,
    provide_open_conn,
)
from services.core.errors import handle_exception
from services.core.logging import configure_logging
from services.core.middleware import (
    allow_header_hook,
    request_id_middleware,
    security_headers_middleware,
)
from services.core.openapi import refine as refine_openapi
from services.core.query_params import refuse_unknown_query_params
from services.core.settings import Settings, load_settings
from services.core.transactions import Transactions
from services.credentialing.routes import CredentialingController
from services.denials.routes import AppealController, DenialController
from services.eligibility.routes import (
    BenefitChecksController,
    EstimatesController,
    OutOfNetworkRatesController,
)
from services.good_faith.routes import GoodFaithController
from services.health.routes import live, ready
from services.identity.routes import AuthController, UsersController
from services.identity.service import token_is_current
from services.metrics.routes import PROMETHEUS, metrics
from services.ops.routes import OpsDigestController
from services.payers.routes import FeeSchedulesController, PayersController
from services.payments.gateway import StripeGateway
from services.payments.problem_routes import PaymentProblemsController
from services.payments.recovery_routes import ChargePaymentController
from services.payments.routes import PaymentMethodController, StripeWebhookController
from services.payments.statement_routes import ClientMoneyController, PaymentsOpsController
from services.payouts.routes import (
    LedgerController,
    PayoutAccountController,
    PayoutHoldController,
    TopUpController,
)
from services.payouts.run_routes import PayoutController
from services.prior_authorizations.routes import PriorAuthorizationController
from services.providers.routes import ProviderController, ProviderDetailsController
from services.remittance.file_routes import (
    ClaimRemittanceController,
    RemittanceController,
    SessionExplanationController,
)
from services.remittance.ops_routes import RemittanceOpsController
from services.remittance.routes import RecoupmentPoliciesController
from services.remittance.true_up_routes import EstimateAccuracyController, TrueUpController
from services.superbills.routes import SuperbillController
from services.therapy_sessions.routes import CoverageQueueController, TherapySessionController

ROUTE_HANDLERS: list[Any] = [
    live,
    ready,
    metrics,
    AuthController,
    UsersController,
    PayersController,
    FeeSchedulesController,
    ProviderController,
    ProviderDetailsController,
    CredentialingController,
    BenefitChecksController,
    EstimatesController,
    OutOfNetworkRatesController,
    ClientController,
    PolicyController,
    TherapySessionController,
    CoverageQueueController,
    PriorAuthorizationController,
    ClaimController,
    SessionClaimController,
    RecoupmentPoliciesController,
    RemittanceController,
    RemittanceOpsController,
    ClaimRemittanceController,
    TrueUpController,
    EstimateAccuracyController,
    SessionExplanationController,
    ClaimBatchController,
    ClaimSubmissionController,
    OpsDigestController,
    DenialController,
    AppealController,
    PaymentMethodController,
    PaymentProblemsController,
    StripeWebhookController,
    ChargePaymentController,
    PayoutAccountController,
    PayoutHoldController,
    TopUpController,
    PayoutController,
    LedgerController,
    ClientMoneyController,
    PaymentsOpsController,
    GoodFaithController,
    SuperbillController,
]


async def open_resources(app: Litestar, settings: Settings) -> None:
    app.state.pool = await create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    app.state.clearinghouse = CoreHttpClient.from_settings(settings)
    app.state.stripe = StripeGateway.from_settings(settings)
    app.state.redis = await create_arq_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=settings.arq_queue_name
    )


async def close_resources(app: Litestar) -> None:
    await app.state.clearinghouse.aclose()
    await app.state.stripe.aclose()
    await app.state.redis.aclose()
    await app.state.pool.close()


def _document_bearer_security(app: Litestar) -> None:
    """Every route guarded by `allow()` needs a token: say so in its OpenAPI operation."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            guarded = any(hasattr(g, "allowed_roles") for g in handler.guards or [])
            if guarded and not handler.security:
                handler.security = BEARER


def _openapi_config(settings: Settings) -> OpenAPIConfig | None:
    """The OpenAPI document per settings.openapi_access; the viewers outside production only.

    Scalar and Swagger load their scripts from a CDN: in production a compromised CDN would
    run code on an ops user's page, so there only the JSON document is served.
    """
    access = settings.openapi_access
    if access == "off":
        return None
    viewers = settings.env != "production" and access == "public"
    plugins = (
        [ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")]
        if viewers
        else [JsonRenderPlugin()]
    )
    router = None
    if access == "ops":
        router = Router(
            "/schema", route_handlers=[], guards=[allow("ops")], include_in_schema=False
        )
    return OpenAPIConfig(
        title="Hearth API",
        version="0.1.0",
        path="/schema",
        render_plugins=plugins,
        openapi_router=router,
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )


AuthConn = Callable[[State], AbstractAsyncContextManager[Any]]


def _pooled(state: State) -> AbstractAsyncContextManager[Any]:
    # A connection of its own, returned before the handler takes its own: one short read,
    # no transaction held.
    # Bounded like the request's own connection: a timeout is answered 503. Plain: the token
    # check is one SELECT, so the connection goes back without the pool's reset query.
    return acquire_plain(state.pool, wait_s=state.settings.db_acquire_timeout_s)


def create_app(
    settings: Settings | None = None,
    *,
    conn_provider: Any = None,
    auth_conn: AuthConn | None = None,
) -> Litestar:
    """`conn_provider` replaces the request transaction (tests run requests in a savepoint);
    `auth_conn` the connection the token check reads the user with, and the one each short
    transaction (`transactions`: login, passwords) is opened on (tests: the same one).
    """
    settings = settings or load_settings()
    open_auth_conn = auth_conn or _pooled
    configure_logging(settings.log_level)
    clock.start(settings.clock_shift_to, settings.clock_shift_from)
    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        lifespan=[_lifespan(settings)],
        state=State(
            {
                "settings": settings,
                "check_access": _access_check(open_auth_conn),
                "request_conn": asynccontextmanager(conn_provider or provide_conn),
            }
        ),
        dependencies=_dependencies(settings, conn_provider or provide_conn, open_auth_conn),
        middleware=_middleware(settings),
        exception_handlers={Exception: handle_exception},
        guards=[refuse_unknown_query_params],
        openapi_config=_openapi_config(settings),
        debug=False,
        logging_config=None,  # ours (JSON, request ids, no PHI), set up above
    )
    _finish(app, settings)
    return app


def _access_check(open_auth_conn: AuthConn) -> AccessCheck:
    """The token check the middleware asks (app.state.check_access)."""

    async def check_access(state: State, claims: TokenClaims) -> bool:
        async with open_auth_conn(state) as conn:
            try:
                return await token_is_current(conn, claims)
            except Exception as exc:
                # As in provide_conn: a connection lost under us is an outage (503), not a 500.
                if connection_lost(conn) and not isinstance(exc, DatabaseUnreachable):
                    raise DatabaseUnreachable("the connection to PostgreSQL was lost") from exc
                raise

    return check_access


def _lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def resources(app: Litestar) -> AsyncGenerator[None, None]:
        await open_resources(app, settings)
        try:
            yield
        finally:
            await close_resources(app)

    return resources


def _dependencies(
    settings: Settings, conn_provider: Any, open_auth_conn: AuthConn
) -> dict[str, Provide]:
    async def provide_settings() -> Settings:
        return settings

    async def provide_redis(state: State) -> Any:
        return state.redis

    async def provide_pool(state: State) -> Any:
        return state.pool

    async def provide_clearinghouse(state: State) -> Any:
        return state.clearinghouse

    async def provide_stripe(state: State) -> Any:
        return state.stripe

    async def provide_transactions(state: State) -> Transactions:
        return Transactions(lambda: open_auth_conn(state))

    return {
        "conn": Provide(conn_provider),
        "open_conn": Provide(provide_open_conn),
        "settings": Provide(provide_settings),
        "redis": Provide(provide_redis),
        "pool": Provide(provide_pool),
        "clearinghouse": Provide(provide_clearinghouse),
        "stripe": Provide(provide_stripe),
        "transactions": Provide(provide_transactions),
        "actor": Provide(provide_actor),
    }


def _middleware(settings: Settings) -> list[Any]:
    return [
        PROMETHEUS.middleware,
        DefineMiddleware(
            TokenAuthMiddleware,
            # An ops-only document needs the caller's token read.
            exclude=["^/health"] if settings.openapi_access == "ops" else ["^/schema", "^/health"],
            exclude_from_auth_key="public",
        ),
    ]


def _finish(app: Litestar, settings: Settings) -> None:
    """What needs the built app: its routes' Allow headers and OpenAPI document, and the
    outermost middleware."""
    _document_bearer_security(app)
    allow = {
        route.path_format: ", ".join(sorted(getattr(route, "methods", set())))
        for route in app.routes
    }
    app.before_send.append(allow_header_hook(allow))
    if app.openapi_config is not None:
        refine_openapi(app.openapi_schema)
    # Outermost, around routing and error rendering, so 404s and 500s carry the id too.
    app.asgi_handler = request_id_middleware(
        security_headers_middleware(app.asgi_handler, hsts=settings.env == "production")
    )


def _freeze_start_up_objects() -> None:
    # Everything alive once started (modules, routes, the OpenAPI document, the pool) lives as
    # long as the process: out of the collector's sight, a full collection no longer walks it
    # in the middle of a request (those pauses were the check's slowest percentile).
    gc.collect()
    gc.freeze()


def create_served_app() -> Litestar:
    """create_app() as a server process runs it (uvicorn --factory: make run, the bench)."""
    app = create_app()
    app.on_startup.append(_freeze_start_up_objects)
    return app
