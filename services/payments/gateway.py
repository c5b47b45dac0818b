"""The thin Stripe adapter: the official SDK's `client.v1.*` services, our own keys.

`max_network_retries=0`: the SDK would retry under the key it sent, but a job's retry must
decide for itself (look the intent up first) and carry its own key. Every POST carries
Hearth's Idempotency-Key; the answers are reduced to the few fields Hearth keeps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import stripe

from services.core.settings import Settings
from services.core.stripe_lists import first_with_metadata


class StripeUnknown(Exception):
    """No answer (timeout, connection lost): the outcome is unknown; look it up, never redo."""


class StripeFailed(Exception):
    """Stripe answered with an error: `transient` (5xx, 429) may be retried under a new key."""

    def __init__(
        self, code: str, *, transient: bool, status: int | None, param: str | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient
        self.status = status
        self.param = param  # the parameter Stripe refused (customer: a customer it does not know)


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    customer: str | None
    amount: int
    charge_id: str | None  # the latest charge
    hearth_charge_id: str | None  # metadata
    decline_code: str | None = None
    failure_code: str | None = None


class Declined(Exception):
    """Stripe's 402 for an off-session charge (decline or authentication_required)."""

    def __init__(self, *, intent_id: str | None, failure_code: str, decline_code: str | None):
        super().__init__(failure_code)
        self.intent_id = intent_id
        self.failure_code = failure_code
        self.decline_code = decline_code


@dataclass(frozen=True)
class PaidCard:
    """The card a charge took the money from (its payment_method_details.card)."""

    method_id: str | None
    brand: str | None
    last4: str | None


@dataclass(frozen=True)
class Captured:
    charge_id: str
    fee_cents: int
    net_cents: int
    card: PaidCard | None = None


@dataclass(frozen=True)
class SetupIntent:
    id: str
    status: str
    customer: str | None
    payment_method: str | None
    created: int
    hearth_client_id: str | None


@dataclass(frozen=True)
class Card:
    id: str
    customer: str | None
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _field(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def _intent(obj: Any) -> Intent:
    error = _field(obj, "last_payment_error")
    charge = _field(obj, "latest_charge")
    metadata = _field(obj, "metadata")
    return Intent(
        id=obj.id,
        status=obj.status,
        customer=_field(obj, "customer"),
        amount=obj.amount,
        charge_id=charge if isinstance(charge, str) or charge is None else charge.id,
        hearth_charge_id=_field(metadata, "hearth_charge_id"),
        decline_code=_field(error, "decline_code"),
        failure_code=_field(error, "code"),
    )


def _paid_card(charge: Any) -> PaidCard:
    method = _field(charge, "payment_method")
    card = _field(_field(charge, "payment_method_details"), "card")
    brand, last4 = _field(card, "brand"), _field(card, "last4")
    return PaidCard(
        method_id=method if isinstance(method, str) or method is None else method.id,
        brand=str(brand)[:50] if brand else None,
        last4=str(last4) if isinstance(last4, str) and len(last4) == 4 and last4.isdigit()
        else None,
    )  # fmt: skip


@dataclass(frozen=True)
class Refunded:
    id: str
    status: str  # succeeded | pending | failed | canceled
    amount: int
    hearth_refund_id: str | None  # metadata
    failure_reason: str | None = None  # a failed refund's, as Stripe gives it


def _refund(obj: Any) -> Refunded:
    reason = _field(obj, "failure_reason")
    return Refunded(
        id=obj.id, status=str(obj.status), amount=int(obj.amount),
        hearth_refund_id=_field(_field(obj, "metadata"), "hearth_refund_id"),
        failure_reason=str(reason)[:100] if reason else None,
    )  # fmt: skip


@dataclass(frozen=True)
class DisputeFunds:
    """One balance transaction of a dispute: money taken (net < 0) or given back (net > 0)."""

    id: str
    amount: int
    fee: int
    net: int


@dataclass(frozen=True)
class Disputed:
    id: str
    status: str
    reason: str
    amount: int
    charge_id: str | None
    payment_intent_id: str | None
    evidence_due_by: int | None  # epoch seconds
    funds: tuple[DisputeFunds, ...]


class StripeGateway:
    """One SDK client per process (API and worker), shared by every call."""

    def __init__(self, client: stripe.StripeClient, http: stripe.HTTPXClient) -> None:
        self.client = client
        self._http = http

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway:
        http = stripe.HTTPXClient(timeout=settings.stripe_timeout_s)
        client = stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses={"api": settings.stripe_api_base},
            max_network_retries=0,
            http_client=http,
        )
        return cls(client, http)

    async def _call(self, make: Any) -> Any:
        try:
            return await make()
        except stripe.CardError as exc:
            error = exc.error
            intent = _field(error, "payment_intent")
            raise Declined(
                intent_id=intent.id if intent is not None else None,
                failure_code=exc.code or "card_declined",
                decline_code=_field(error, "decline_code"),
            ) from exc
        except stripe.APIConnectionError as exc:
            raise StripeUnknown(str(exc.user_message or "no answer from Stripe")) from exc
        except stripe.StripeError as exc:
            status = exc.http_status
            if status == 409:
                # Another request under the same key is still in flight: its outcome is unknown.
                raise StripeUnknown("a request under this key is in flight") from exc
            transient = status is None or status >= 500 or status == 429
            error = _field(exc, "error")
            raise StripeFailed(exc.code or _field(error, "code") or type(exc).__name__,
                               transient=transient, status=status,
                               param=_field(error, "param")) from exc  # fmt: skip

    async def create_customer(self, client_id: uuid.UUID, attempt: int) -> str:
        customer = await self._call(lambda: self.client.v1.customers.create_async(
            params={"metadata": {"hearth_client_id": str(client_id)}},
            options={"idempotency_key": f"customer-{client_id}-a{attempt}"},
        ))  # fmt: skip
        return str(customer.id)

    async def create_setup_intent(
        self, customer: str, setup_id: uuid.UUID, attempt: int = 1
    ) -> tuple[str, str]:
        """(id, client secret) of an off-session SetupIntent for the customer's card (attempt 2:
        the same setup for a new customer, after Stripe refused the lost one under a1)."""
        intent = await self._call(lambda: self.client.v1.setup_intents.create_async(
            params={"customer": customer, "usage": "off_session",
                    "payment_method_types": ["card"],
                    "metadata": {"hearth_setup_id": str(setup_id)}},  # type: ignore[arg-type]
            options={"idempotency_key": f"setup-{setup_id}-a{attempt}"},
        ))  # fmt: skip
        return str(intent.id), str(intent.client_secret)

    async def get_setup_intent(self, intent_id: str) -> SetupIntent:
        obj = await self._call(lambda: self.client.v1.setup_intents.retrieve_async(intent_id))
        method = _field(obj, "payment_method")
        return SetupIntent(
            id=obj.id, status=obj.status, customer=_field(obj, "customer"),
            payment_method=method if isinstance(method, str) or method is None else method.id,
            created=int(obj.created), hearth_client_id=None,
        )  # fmt: skip

    async def get_card(self, method_id: str) -> Card:
        obj = await self._call(lambda: self.client.v1.payment_methods.retrieve_async(method_id))
        card = obj.card
        return Card(
            id=obj.id, customer=_field(obj, "customer"), brand=str(card.brand),
            last4=str(card.last4), exp_month=int(card.exp_month), exp_year=int(card.exp_year),
        )  # fmt: skip

    async def detach_card(self, method_id: str) -> None:
        await self._call(lambda: self.client.v1.payment_methods.detach_async(
            method_id, options={"idempotency_key": f"detach-{method_id}-a1"},
        ))  # fmt: skip

    async def charge_off_session(
        self, *, key: str, customer: str, method: str, amount: int, metadata: dict[str, str]
    ) -> Intent:
        """A PaymentIntent created and confirmed off-session; Declined on Stripe's 402."""
        obj = await self._call(lambda: self.client.v1.payment_intents.create_async(
            params={"amount": amount, "currency": "usd", "customer": customer,
                    "payment_method": method, "off_session": True, "confirm": True,
                    "metadata": metadata},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _intent(obj)

    async def get_intent(self, intent_id: str) -> Intent:
        obj = await self._call(lambda: self.client.v1.payment_intents.retrieve_async(intent_id))
        return _intent(obj)

    async def find_intent(self, customer: str, charge_id: uuid.UUID, since: int) -> Intent | None:
        """The customer's intent made for this charge, by metadata (never the Search API: it
        lags), among those created since `since` (epoch seconds)."""
        params: dict[str, Any] = {"customer": customer, "created": {"gte": since}, "limit": 100}
        found = await self._first_with(
            self.client.v1.payment_intents.list_async, params, "hearth_charge_id", str(charge_id)
        )
        return None if found is None else _intent(found)

    async def _first_with(self, list_async: Any, params: dict[str, Any], key: str,
                          value: str) -> Any:  # fmt: skip
        """The first listed object whose metadata has key = value, page after page."""
        return await first_with_metadata(self._call, list_async, params, key, value)

    async def captured(self, charge_id: str) -> Captured:
        """The charge's fee and net, from its balance transaction (never computed)."""
        obj = await self._call(lambda: self.client.v1.charges.retrieve_async(
            charge_id, params={"expand": ["balance_transaction"]}
        ))  # fmt: skip
        txn = obj.balance_transaction
        return Captured(charge_id=obj.id, fee_cents=int(txn.fee), net_cents=int(txn.net),
                        card=_paid_card(obj))  # fmt: skip

    async def refund(
        self, *, key: str, intent: str, amount: int, metadata: dict[str, str]
    ) -> Refunded:
        """A refund of part of the intent's charge (Stripe refuses more than is left: 400)."""
        obj = await self._call(lambda: self.client.v1.refunds.create_async(
            params={"payment_intent": intent, "amount": amount, "metadata": metadata},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _refund(obj)

    async def get_refund(self, refund_id: str) -> Refunded:
        return _refund(await self._call(lambda: self.client.v1.refunds.retrieve_async(refund_id)))

    async def find_refund(self, intent: str, refund_id: uuid.UUID) -> Refunded | None:
        """The intent's refund made for this Hearth refund, by metadata."""
        params: dict[str, Any] = {"payment_intent": intent, "limit": 100}
        found = await self._first_with(
            self.client.v1.refunds.list_async, params, "hearth_refund_id", str(refund_id)
        )
        return None if found is None else _refund(found)

    async def refunds_of_charge(self, charge_id: str) -> list[Refunded]:
        """Every refund of a charge (charge.refunded names the charge), found through its
        PaymentIntent."""
        charge = await self._call(lambda: self.client.v1.charges.retrieve_async(charge_id))
        intent = _field(charge, "payment_intent")
        if intent is None:
            return []
        params: dict[str, Any] = {
            "payment_intent": intent if isinstance(intent, str) else intent.id,
            "limit": 100,
        }
        found: list[Refunded] = []
        while True:
            page = await self._call(
                lambda p=dict(params): self.client.v1.refunds.list_async(params=p)
            )
            found.extend(_refund(obj) for obj in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    # Failed-payment recovery (recovery.py): the same intent confirmed again, off-session by a
    # retry or on-session by the client, and an unconfirmed intent for Stripe.js.

    async def confirm_intent(
        self, *, key: str, intent_id: str, method: str, off_session: bool
    ) -> Intent:
        """The intent confirmed again with `method`; Declined on Stripe's 402."""
        obj = await self._call(lambda: self.client.v1.payment_intents.confirm_async(
            intent_id, params={"payment_method": method, "off_session": off_session},
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _intent(obj)

    async def create_payable_intent(
        self, *, key: str, customer: str | None, amount: int, metadata: dict[str, str]
    ) -> tuple[Intent, str]:
        """(intent, client secret) of an unconfirmed intent the client confirms on-session."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "usd",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if customer is not None:
            params["customer"] = customer
        obj = await self._call(lambda: self.client.v1.payment_intents.create_async(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": key},
        ))  # fmt: skip
        return _intent(obj), str(obj.client_secret)

    async def get_intent_secret(self, intent_id: str) -> tuple[Intent, str]:
        """The intent and its client secret (Stripe.js confirms with it)."""
        obj = await self._call(lambda: self.client.v1.payment_intents.retrieve_async(intent_id))
        return _intent(obj), str(obj.client_secret)

    async def get_dispute(self, dispute_id: str) -> Disputed:
        """The dispute as Stripe has it now, with its balance transactions (Stripe gives them
        whole; an id alone is read)."""
        obj = await self._call(lambda: self.client.v1.disputes.retrieve_async(dispute_id))
        funds = []
        for txn in _field(obj, "balance_transactions") or []:
            if isinstance(txn, str):
                txn = await self._call(
                    lambda t=txn: self.client.v1.balance_transactions.retrieve_async(t)
                )
            funds.append(DisputeFunds(id=str(txn.id), amount=int(txn.amount),
                                      fee=int(txn.fee), net=int(txn.net)))  # fmt: skip
        charge, intent = _field(obj, "charge"), _field(obj, "payment_intent")
        due = _field(_field(obj, "evidence_details"), "due_by")
        return Disputed(
            id=obj.id, status=str(obj.status), reason=str(obj.reason or "general")[:100],
            amount=int(obj.amount),
            charge_id=charge if isinstance(charge, str) or charge is None else charge.id,
            payment_intent_id=intent if isinstance(intent, str) or intent is None else intent.id,
            evidence_due_by=int(due) if due else None, funds=tuple(funds),
        )  # fmt: skip
