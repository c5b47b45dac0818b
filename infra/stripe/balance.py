"""Stripe's fee on every charge, pending funds becoming available, and `GET /v1/balance`.

localstripe makes every balance transaction available at once, with no fee, and answers a fixed
EUR 20.00 balance. Here a charge's transaction carries Stripe's fee (2.9% + 30 cents, the
percentage rounded half up to the cent) and stays pending for `available_delay_s` of the
simulator's clock; the balance is the sum of the USD transactions' nets, by status.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from aiohttp import web
from localstripe.resources import BalanceTransaction, StripeObject, store

from infra.stripe.errors import answer
from infra.stripe.state import Config, SimClock

CURRENCY = "usd"
PERCENT_FEE_PER_MILLE = 29
FIXED_FEE_CENTS = 30
# A transaction's reporting category, by its type (Stripe's names).
_CATEGORY = {
    "charge": "charge",
    "refund": "refund",
    "refund_failure": "refund_failure",
    "transfer": "transfer",
    "transfer_cancel": "transfer_reversal",
    "topup": "topup",
    "adjustment": "dispute",
}


def stripe_fee(amount: int) -> int:
    """2.9% + 30 cents; Stripe rounds the percentage half up to the cent."""
    return (amount * PERCENT_FEE_PER_MILLE + 500) // 1000 + FIXED_FEE_CENTS


def _fee_details(fee: int, currency: str, description: str) -> list[dict[str, Any]]:
    return [{"amount": fee, "application": None, "currency": currency,
             "description": description, "type": "stripe_fee"}]  # fmt: skip


class Ledger:
    """Every balance transaction lives in localstripe's store; the pending ones wait in a heap.

    A heap by date, so settling before each request costs only the transactions that are due.
    """

    def __init__(self, clock: SimClock, config: Config) -> None:
        self.clock, self.config = clock, config
        self.pending: list[tuple[int, int, BalanceTransaction]] = []
        self.held = itertools.count()

    def install(self) -> None:
        """Charges created by localstripe get the fee and the pending period."""
        original = BalanceTransaction.__init__
        ledger = self

        def init(txn: BalanceTransaction, *args: Any, **kwargs: Any) -> None:
            original(txn, *args, **kwargs)
            if txn.type == "charge":
                ledger.charge_fee(txn)

        BalanceTransaction.__init__ = init  # type: ignore[method-assign]

    def charge_fee(self, txn: BalanceTransaction) -> None:
        fee = stripe_fee(txn.amount)
        txn.fee = fee
        txn.fee_details = _fee_details(fee, txn.currency, "Stripe processing fees")
        self.hold(txn, self.config.available_delay_s)

    def hold(self, txn: BalanceTransaction, delay_s: int) -> None:
        txn.available_on = self.clock.timestamp() + delay_s
        txn.status = "pending"
        heapq.heappush(self.pending, (txn.available_on, next(self.held), txn))
        self.settle()

    def add(self, amount: int, type: str, source: str, *, currency: str = CURRENCY,
            fee: int = 0, description: str | None = None,
            delay_s: int = 0) -> BalanceTransaction:  # fmt: skip
        """A transaction of a kind localstripe refuses to make (transfer, top-up, dispute...)."""
        txn = BalanceTransaction.__new__(BalanceTransaction)
        StripeObject.__init__(txn)
        txn.amount, txn.currency, txn.description = amount, currency, description
        txn.exchange_rate = None
        txn.fee = fee
        txn.fee_details = _fee_details(fee, currency, description or type) if fee else []
        txn.reporting_category = _CATEGORY[type]
        txn.source, txn.type = source, type
        txn.available_on, txn.status = txn.created, "available"
        if delay_s > 0:
            self.hold(txn, delay_s)
        return txn

    def settle(self) -> None:
        """Pending transactions whose date has come (by the simulator's clock) become available."""
        now = self.clock.timestamp()
        while self.pending and self.pending[0][0] <= now:
            txn = heapq.heappop(self.pending)[2]
            if txn.status == "pending":
                txn.status = "available"

    def totals(self, currency: str = CURRENCY) -> tuple[int, int]:
        """(available, pending) nets in `currency`."""
        self.settle()
        available = pending = 0
        for key, txn in store.items():
            if key.startswith("balance_transaction:") and txn.currency == currency:
                if txn.status == "available":
                    available += txn.net
                elif txn.status == "pending":
                    pending += txn.net
        return available, pending

    def clear(self) -> None:
        self.pending.clear()

    async def get_balance(self, request: web.Request) -> web.Response:
        available, pending = self.totals()
        return answer({
            "object": "balance",
            "livemode": False,
            "available": [{"amount": available, "currency": CURRENCY,
                           "source_types": {"card": available}}],
            "pending": [{"amount": pending, "currency": CURRENCY,
                         "source_types": {"card": pending}}],
        })  # fmt: skip
