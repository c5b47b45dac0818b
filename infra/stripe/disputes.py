"""What only the card network and the bank start: disputes and failed refunds (admin routes).

A dispute takes the amount and Stripe's $15 dispute fee from the balance
(charge.dispute.created, charge.dispute.funds_withdrawn); closing it `won` gives both back
(charge.dispute.funds_reinstated), `lost` keeps them; either way charge.dispute.closed. A failed
refund gives its amount back to the balance and sends charge.refund.updated.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe.resources import Charge, Refund, StripeObject

from infra.stripe.balance import Ledger
from infra.stripe.errors import answer, invalid
from infra.stripe.objects import cents, emit, find, post_params

DISPUTE_FEE_CENTS = 1_500
CLOSED = ("won", "lost")


class Dispute(StripeObject):
    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge: Charge, amount: int, reason: str) -> None:
        super().__init__()
        self.amount, self.currency, self.charge = amount, charge.currency, charge.id
        self.payment_intent = charge.payment_intent
        self.reason, self.status = reason, "needs_response"
        self.balance_transactions: list[str] = []
        self.is_charge_refundable = False
        self.metadata: dict[str, str] = {}


class Disputes:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def open(self, request: web.Request) -> web.Response:
        data = await post_params(request)
        charge = find(Charge, data.get("charge"), "charge")
        if charge.status != "succeeded":
            raise invalid("Only a succeeded charge can be disputed", param="charge")
        amount = cents(data.get("amount"), "amount", required=False) or charge.amount
        if amount > charge.amount:
            raise invalid("A dispute is at most the charge's amount", param="amount")
        dispute = Dispute(charge, amount, str(data.get("reason") or "fraudulent"))
        txn = self.ledger.add(-amount, "adjustment", dispute.id, fee=DISPUTE_FEE_CENTS,
                              description=f"Chargeback withdrawal for {charge.id}")  # fmt: skip
        dispute.balance_transactions.append(txn.id)
        charge.disputed = True
        emit("charge.dispute.created", dispute)
        emit("charge.dispute.funds_withdrawn", dispute)
        return answer(dispute._export())

    async def close(self, request: web.Request) -> web.Response:
        dispute = find(Dispute, request.match_info["id"], "dispute")
        data = await post_params(request)
        status = data.get("status")
        if status not in CLOSED:
            raise invalid("status must be won or lost", param="status")
        if dispute.status in CLOSED:
            raise invalid(f"Dispute {dispute.id} is already closed")
        dispute.status = status
        if status == "won":
            back, note = (
                dispute.amount + DISPUTE_FEE_CENTS,
                f"Chargeback reversal: {dispute.charge}",
            )
            txn = self.ledger.add(back, "adjustment", dispute.id, description=note)
            dispute.balance_transactions.append(txn.id)
            emit("charge.dispute.funds_reinstated", dispute)
        emit("charge.dispute.closed", dispute)
        return answer(dispute._export())

    async def fail_refund(self, request: web.Request) -> web.Response:
        refund = find(Refund, request.match_info["id"], "refund")
        data: dict[str, Any] = await post_params(request)
        if refund.status != "succeeded":
            raise invalid(f"Refund {refund.id} is {refund.status}, not succeeded")
        refund.status = "failed"
        refund.failure_reason = str(data.get("failure_reason") or "expired_or_canceled_card")
        txn = self.ledger.add(refund.amount, "refund_failure", refund.id,
                              currency=refund.currency)  # fmt: skip
        refund.failure_balance_transaction = txn.id
        emit("charge.refund.updated", refund)
        emit("refund.failed", refund)
        return answer(refund._export())
