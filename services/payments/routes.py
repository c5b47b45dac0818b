"""/clients/{id}/payment-setup, /clients/{id}/payment-methods and /webhooks/stripe."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeAlias

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from schemas.payments import PaymentMethodsOut, PaymentSetupOut, WebhookAck
from services.core.auth import PUBLIC, allow
from services.core.deps import AppSettings, Caller, Conn, Transactions
from services.payments import service, webhooks
from services.payments.gateway import StripeGateway

Gateway: TypeAlias = NamedDependency[StripeGateway]
CLIENT_OR_OPS = [allow("client", "ops")]
MethodId = Annotated[str, Parameter(pattern=r"^pm_[A-Za-z0-9_]{1,250}$")]


class PaymentMethodController(Controller):
    path = "/clients/{client_id:uuid}"
    tags = ["payments"]

    @post(
        "/payment-setup", guards=CLIENT_OR_OPS, operation_id="start_payment_setup",
        status_code=201,
    )  # fmt: skip
    async def setup(
        self, client_id: FromPath[uuid.UUID], transactions: Transactions, stripe: Gateway,
        actor: Caller,
    ) -> PaymentSetupOut:  # fmt: skip
        """A SetupIntent's client secret for Stripe.js and the consent text to show (its
        version and time kept); the card is saved when Stripe confirms it by webhook."""
        return await service.start_payment_setup(transactions, stripe, actor, client_id)

    @get("/payment-methods", guards=CLIENT_OR_OPS, operation_id="list_payment_methods")
    async def list(
        self, client_id: FromPath[uuid.UUID], conn: Conn, actor: Caller
    ) -> PaymentMethodsOut:
        """The client's saved cards, newest first; the default is the one charged."""
        return await service.list_payment_methods(conn, actor, client_id)

    @delete(
        "/payment-methods/{payment_method_id:str}", guards=CLIENT_OR_OPS,
        operation_id="remove_payment_method", status_code=204,
    )  # fmt: skip
    async def remove(
        self, client_id: FromPath[uuid.UUID], payment_method_id: MethodId,
        transactions: Transactions, stripe: Gateway, actor: Caller,
    ) -> None:  # fmt: skip
        """Detach the card at Stripe and remove it; the newest card left becomes the default."""
        await service.remove_payment_method(
            transactions, stripe, actor, client_id, payment_method_id
        )


class StripeWebhookController(Controller):
    path = "/webhooks/stripe"
    tags = ["payments"]

    @post("/", opt=PUBLIC, operation_id="receive_stripe_webhook", status_code=200)
    async def receive(
        self, request: Request[Any, Any, Any], conn: Conn, settings: AppSettings
    ) -> WebhookAck:
        """A Stripe event from our account or Connect endpoint, signature checked with that
        endpoint's secret (400 and nothing kept when bad or stale), stored once and handled by
        a job."""
        body = await request.body()
        stored, _ = await webhooks.receive(
            conn, body, request.headers.get("stripe-signature"),
            settings.stripe_webhook_secret, settings.stripe_connect_webhook_secret,
        )  # fmt: skip
        return WebhookAck(received=True, duplicate=not stored)
