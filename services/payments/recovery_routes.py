"""/client-charges/{id}/payment: a charge that did not go through, paid on-session."""

from __future__ import annotations

import uuid
from typing import TypeAlias

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from schemas.payments import ChargePaymentOut, PayChargeIn
from services.core import idempotency
from services.core.auth import allow
from services.core.deps import Caller, Transactions
from services.payments import pay
from services.payments.gateway import StripeGateway

Gateway: TypeAlias = NamedDependency[StripeGateway]


class ChargePaymentController(Controller):
    path = "/client-charges/{charge_id:uuid}"
    tags = ["payments"]

    @post("/payment", guards=[allow("client", "ops")], operation_id="pay_charge",
          status_code=200)  # fmt: skip
    async def pay(
        self, charge_id: FromPath[uuid.UUID], transactions: Transactions, stripe: Gateway,
        actor: Caller, data: JSONBody[PayChargeIn | None] = None,
        idempotency_key: idempotency.IdempotencyKey = None,
    ) -> ChargePaymentOut:  # fmt: skip
        """Pay a failed charge or a balance due on-session: the PaymentIntent's client secret
        for Stripe.js (the saved card or another one), or, with `payment_method_id`, the
        charge confirmed here with that saved card. A repeat answers the same intent."""
        return await pay.pay_charge(transactions, stripe, actor, charge_id,
                                    data or PayChargeIn(), idempotency_key)  # fmt: skip

    @get("/payment", guards=[allow("client", "ops")], operation_id="get_charge_payment")
    async def status(
        self, charge_id: FromPath[uuid.UUID], transactions: Transactions, stripe: Gateway,
        actor: Caller,
    ) -> ChargePaymentOut:  # fmt: skip
        """Where the charge's payment stands, re-read from Stripe (a paid intent is recorded
        now if its webhook was lost)."""
        return await pay.get_charge_payment(transactions, stripe, actor, charge_id)
