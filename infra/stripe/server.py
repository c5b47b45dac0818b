"""The simulator's aiohttp application: localstripe's routes behind ours."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe import server as localstripe_server
from localstripe.errors import UserError
from localstripe.resources import Store, StripeObject, store
from localstripe.server import get_post_data

from infra.stripe import admin, payments, setup_intents
from infra.stripe.balance import Ledger
from infra.stripe.connect import RETRIEVABLE, Connect, Topup
from infra.stripe.disputes import Dispute, Disputes
from infra.stripe.errors import StripeError, stripe_errors
from infra.stripe.faults import Faults
from infra.stripe.idempotency import Idempotency
from infra.stripe.state import Config, SimClock
from infra.stripe.webhooks import Endpoint, Webhooks

# Where Stripe.js may use the publishable key beyond what localstripe lets it (its SetupIntent
# confirm): confirming a PaymentIntent with its client secret (confirmCardPayment).
PUBLISHABLE_CONFIRM = re.compile(r"^/v1/payment_intents/\w+/confirm$")

# localstripe's own webhook registry is replaced by ours (`/_admin/webhooks`).
_SKIPPED = ("/_config/webhooks/{id}",)


class Simulator:
    def __init__(self, config: Config) -> None:
        self.startup = config
        self.config = dataclasses.replace(config)
        self.clock = SimClock()
        self.ledger = Ledger(self.clock, self.config)
        self.connect = Connect(self.ledger)
        self.disputes = Disputes(self.ledger)
        self.faults = Faults()
        self.idempotency = Idempotency(self.clock)
        self.webhooks = Webhooks(self.config)

    def settle(self) -> None:
        self.ledger.settle()
        self.connect.settle()

    def reset(self) -> None:
        """An empty Stripe: no objects, keys, faults, held events or clock advance."""
        store.clear()
        for name, value in dataclasses.asdict(self.startup).items():
            setattr(self.config, name, value)
        self.clock.advanced_s = 0.0
        self.ledger.clear()
        self.connect.clear()
        self.faults.clear()
        self.idempotency.clear()
        self.webhooks.reset()

    @web.middleware
    async def settle_first(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.settle()
        response: web.StreamResponse = await handler(request)
        return response


_installed: list[Simulator] = []


def _install(sim: Simulator) -> None:
    """Patch localstripe's classes once per process (its store and classes are module state)."""
    if _installed:
        raise RuntimeError("one simulator per process: localstripe's store is module state")
    _installed.append(sim)
    # No pickling on every write, no shared /tmp/localstripe.pickle loaded at start.
    Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]
    resources.schedule_webhook = sim.webhooks.publish
    sim.ledger.install()
    payments.install()
    _install_missing()


def _install_missing() -> None:
    """An unknown id answered as Stripe answers it (404 `resource_missing`, "No such
    payment_intent: 'pi_x'"), not localstripe's bare "Not Found" with no code."""
    original = StripeObject._api_retrieve.__func__  # type: ignore[attr-defined]

    def retrieve(cls: type[StripeObject], id: Any) -> Any:
        try:
            return original(cls, id)
        except UserError as exc:
            if exc.code != 404:
                raise
            raise UserError(404, f"No such {cls.object}: '{id}'",
                            {"code": "resource_missing", "param": "id"}) from exc  # fmt: skip

    StripeObject._api_retrieve = classmethod(retrieve)  # type: ignore[method-assign,assignment]


@web.middleware
async def authenticated(request: web.Request, handler: Any) -> web.StreamResponse:
    """localstripe's API-key check, except for our admin routes."""
    if request.path.startswith("/_admin/"):
        response: web.StreamResponse = await handler(request)
        return response
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme not in ("", "Basic", "Bearer"):
        # localstripe's own check fails with a 500 on any other scheme.
        raise StripeError(401, "Invalid API Key provided", type="invalid_request_error")
    if request.method == "POST" and PUBLISHABLE_CONFIRM.match(request.path):
        # Stripe.js's confirmCardPayment: the publishable key and the intent's client secret
        # (payments.confirm_intent checks the secret when no secret key was sent).
        data = await get_post_data(request, remove_auth=False) or {}
        key = data.get("key")
        if localstripe_server.get_api_key(request) is None and isinstance(key, str) \
                and key.startswith("pk_"):  # fmt: skip
            published: web.StreamResponse = await handler(request)
            return published
    checked: web.StreamResponse = await localstripe_server.auth_middleware(request, handler)
    return checked


def build(
    config: Config, webhooks: list[Endpoint] | None = None
) -> tuple[Simulator, web.Application]:
    sim = Simulator(config)
    _install(sim)
    for endpoint in webhooks or []:
        sim.webhooks.register(endpoint)
    errors = localstripe_server.error_middleware
    # Outside in: errors rendered, key checked, faults, idempotency (which stores the rendered
    # answer, so errors are rendered again inside it), pending funds settled.
    app = web.Application(middlewares=[stripe_errors, errors, authenticated, sim.faults.middleware,
                                       sim.idempotency.middleware, stripe_errors, errors,
                                       sim.settle_first])  # fmt: skip
    ours = [
        *payments.ROUTES,
        *setup_intents.ROUTES,
        *sim.connect.routes(),
        ("GET", "/v1/balance", sim.ledger.get_balance),
    ]
    for kind in (*RETRIEVABLE, Dispute):
        url = f"/v1/{kind.object}s"
        ours.append(("GET", url + "/{id}", localstripe_server.api_retrieve(kind, url)))
    ours.append(("GET", "/v1/topups", localstripe_server.api_list_all(Topup, "/v1/topups")))
    for method, path, handler in [*ours, *admin.routes(sim)]:
        app.router.add_route(method, path, handler)
    taken = {(method, path) for method, path, _ in ours}
    for resource in localstripe_server.app.router.resources():
        path = resource.canonical
        for route in resource:
            if (route.method, path) not in taken and path not in _SKIPPED:
                app.router.add_route(route.method, path, route.handler)
    # Stripe.js stand-in (localstripe-v3.js) pages call it from the browser.
    app.on_response_prepare.append(localstripe_server.add_cors_headers)
    app.on_cleanup.append(lambda _: sim.webhooks.close())
    return sim, app
