"""PaymentIntents, charges and refunds where localstripe differs from Stripe.

- Off-session failures answer HTTP 402 with Stripe's `card_error` body: `code`, `decline_code`,
  the charge, the payment method and the PaymentIntent (in `requires_payment_method`, its
  `payment_method` cleared, `last_payment_error` set) in `error.payment_intent`; an
  on-session confirmation that needs authentication answers 200 `requires_action`.
- Stripe's minimum: 50 cents (400 `amount_too_small`).
- Create accepts `transfer_group`, `description`, `statement_descriptor`, `receipt_email`,
  `capture_method`, `error_on_requires_action`, `setup_future_usage` (kept on the intent, and
  `transfer_group`, `description` and `metadata` on its charge).
- Confirm takes a `payment_method` (a retry with the same or another card, on the same intent),
  or, as Stripe.js's confirmCardPayment sends it, `payment_method_data` (a card typed in) with
  the publishable key and the intent's `client_secret`.
- The list filters by `customer` and `created`; `latest_charge` is the charge's id unless
  expanded.
- Refunds by `charge` or `payment_intent`, never beyond what is left of the charge (400).
- A charge carries `payment_method_details` (`type`, and `card` with `brand`, `last4`, expiry
  and fingerprint), as Stripe's does: the card that paid, typed in or saved.
- A `customer` Stripe does not know is refused as Stripe refuses it (400 `resource_missing`,
  `param` customer), not localstripe's bare 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe.resources import (
    Charge,
    List,
    PaymentIntent,
    PaymentMethod,
    Refund,
    store,
)
from localstripe.server import get_api_key

from infra.stripe.errors import StripeError, answer, invalid
from infra.stripe.faults import DECLINE
from infra.stripe.objects import (
    cents,
    created_filter,
    emit,
    every,
    find,
    flag,
    known_customer,
    metadata,
    page,
    post_params,
    query_params,
)

MINIMUM_CENTS = 50
# Kept on the intent as given (localstripe's constructor refuses them).
_KEPT = ("transfer_group", "description", "statement_descriptor", "receipt_email",
         "setup_future_usage", "return_url")  # fmt: skip
_IGNORED = ("error_on_requires_action", "use_stripe_sdk", "mandate_data",
            "automatic_payment_methods", "confirmation_method",
            "payment_method_options")  # fmt: skip
DECLINED = "Your card was declined."
NEEDS_AUTHENTICATION = "Your card was declined. This transaction requires authentication."


def install() -> None:
    """`latest_charge` exported as an id unless expanded, and our last_payment_error."""
    original_export = PaymentIntent._export
    original_error = PaymentIntent.last_payment_error

    def export(intent: PaymentIntent, expand: Any = None) -> dict[str, Any]:
        paths = list(expand or [])
        own = [p for p in paths if p.split(".")[0] != "latest_charge"]
        charge_paths = [p.partition(".")[2] for p in paths if p.split(".")[0] == "latest_charge"]
        obj: dict[str, Any] = original_export(intent, expand=own)
        charge = intent.latest_charge
        if charge is not None:
            wanted = "latest_charge" in paths or charge_paths
            sub = [p for p in charge_paths if p]
            obj["latest_charge"] = charge._export(expand=sub) if wanted else charge.id
        obj.pop("charges", None)
        return obj

    def last_payment_error(intent: PaymentIntent) -> Any:
        own = getattr(intent, "_sim_last_error", None)
        return own if own is not None else original_error.fget(intent)

    def amount_refunded(charge: Charge) -> int:
        return sum(r.amount for r in charge.refunds._list if r.status != "failed")

    def payment_method_details(charge: Charge) -> dict[str, Any] | None:
        method = store.get(f"payment_method:{charge.payment_method}")
        if method is None or method.type != "card":
            return None
        card = {k: method.card[k] for k in ("brand", "last4", "exp_month", "exp_year",
                                             "fingerprint", "funding", "country")}  # fmt: skip
        return {"type": "card", "card": card}

    PaymentIntent._export = export  # type: ignore[method-assign]
    Charge.payment_method_details = property(payment_method_details)  # type: ignore[attr-defined]
    PaymentIntent.last_payment_error = property(last_payment_error)  # type: ignore[assignment]
    Charge.amount_refunded = property(amount_refunded)  # type: ignore[assignment]
    _index_refunds()


def _index_refunds() -> None:
    """A charge's refunds from an index kept as they are made: localstripe lists them by
    scanning its whole store, several times for every charge exported (each PaymentIntent
    answer), so each call cost more as objects accumulated (600 intents: 263/s down to 84/s)."""
    by_charge: dict[str, list[Refund]] = {}
    original_init = Refund.__init__

    def init(refund: Refund, *args: Any, **kwargs: Any) -> None:
        original_init(refund, *args, **kwargs)
        by_charge.setdefault(refund.charge, []).append(refund)

    def refunds(charge: Charge) -> List:
        listing = List(f"/v1/charges/{charge.id}/refunds")
        # Only those still in the store (a reset empties it), newest first as localstripe.
        kept = [r for r in by_charge.get(charge.id, []) if store.get(f"refund:{r.id}") is r]
        listing._list = sorted(kept, key=lambda r: r.date, reverse=True)
        return listing

    Refund.__init__ = init  # type: ignore[method-assign]
    Charge.refunds = property(refunds)  # type: ignore[assignment]


async def create_intent(request: web.Request) -> web.Response:
    data = await post_params(request)
    expand = data.pop("expand", None)
    confirm = flag(data.pop("confirm", None), "confirm")
    off_session = flag(data.pop("off_session", None), "off_session")
    strict = flag(data.pop("error_on_requires_action", None), "error_on_requires_action")
    kept = {name: data.pop(name) for name in _KEPT if name in data}
    for name in _IGNORED:
        data.pop(name, None)
    amount = cents(data.get("amount"), "amount")
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency:
        raise invalid("Missing required param: currency.", param="currency")
    if amount is not None and amount < MINIMUM_CENTS:
        raise invalid(f"Amount must be at least $0.50 {currency.lower()}", param="amount",
                      code="amount_too_small")  # fmt: skip
    if off_session and not confirm:
        raise invalid("off_session can only be used with confirm=true", param="off_session")
    if confirm and not data.get("payment_method"):
        raise _missing_method()
    known_customer(data.get("customer"))
    data["metadata"] = metadata(data.get("metadata"))
    intent = PaymentIntent._api_create(**data)
    for name in _KEPT:
        setattr(intent, name, kept.get(name))
    if confirm:
        _confirm(intent, request, off_session or strict)
    return answer(intent._export(expand=expand))


async def confirm_intent(request: web.Request) -> web.Response:
    intent = find(PaymentIntent, request.match_info["id"])
    data = await post_params(request)
    expand = data.pop("expand", None)
    off_session = flag(data.pop("off_session", None), "off_session")
    strict = flag(data.pop("error_on_requires_action", None), "error_on_requires_action")
    method = data.pop("payment_method", None)
    card = data.pop("payment_method_data", None)
    secret = data.pop("client_secret", None)
    if get_api_key(request) is None and secret != intent.client_secret:
        # The publishable key (Stripe.js) confirms only with the intent's client secret.
        raise StripeError(401, "Invalid client_secret", type="invalid_request_error")
    for name in ("return_url", *_IGNORED):
        data.pop(name, None)
    if data:
        raise invalid(f"Received unknown parameter: {next(iter(data))}", param=next(iter(data)))
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise invalid(f"You cannot confirm this PaymentIntent because it has a status of "
                      f"{intent.status}.", code="payment_intent_unexpected_state")  # fmt: skip
    if method is not None:
        PaymentMethod._api_retrieve(method)  # 404 when unknown
        intent.payment_method = method
    elif card is not None:  # a card typed in (Stripe.js), not saved to the customer
        if not isinstance(card, dict) or card.get("type") != "card":
            raise invalid("payment_method_data[type] must be card", param="payment_method_data")
        intent.payment_method = PaymentMethod(**card).id
    if intent.payment_method is None:
        raise _missing_method()
    _confirm(intent, request, off_session or strict)
    return answer(intent._export(expand=expand))


def _missing_method() -> StripeError:
    return invalid("You cannot confirm this PaymentIntent because it's missing a payment method.",
                   code="payment_intent_unexpected_state")  # fmt: skip


def _confirm(intent: PaymentIntent, request: web.Request, off_session: bool) -> None:
    """Charge the intent's card; a failure off-session (or any decline) raises the 402."""
    method = PaymentMethod._api_retrieve(intent.payment_method)
    intent._sim_last_error = None
    intent.next_action = None
    forced = request.get(DECLINE)
    if forced is None and method._requires_authentication() and not off_session:
        intent.next_action = {"type": "use_stripe_sdk",
                              "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                                 "stripe_js": ""}}  # fmt: skip
        return
    charge = Charge(amount=intent.amount, currency=intent.currency, customer=intent.customer,
                    source=intent.payment_method, capture=intent.capture_method != "manual",
                    description=getattr(intent, "description", None),
                    metadata=dict(intent.metadata))  # fmt: skip
    charge.payment_intent = intent.id
    charge.transfer_group = getattr(intent, "transfer_group", None)
    needs_authentication = forced is None and method._requires_authentication()
    if forced is not None or needs_authentication:
        charge._authorized = False
    intent.latest_charge = charge
    failed: list[bool] = []
    charge._initialize_charge(intent._on_success, lambda: failed.append(True),
                              intent._report_async_failure)  # fmt: skip
    if failed:
        code = "authentication_required" if needs_authentication else "card_declined"
        _fail(intent, charge, method, code, forced or ("authentication_required"
              if needs_authentication else "generic_decline"))  # fmt: skip


def _fail(intent: PaymentIntent, charge: Charge, method: PaymentMethod, code: str,
          decline_code: str) -> None:  # fmt: skip
    message = NEEDS_AUTHENTICATION if code == "authentication_required" else DECLINED
    charge.failure_code, charge.failure_message = code, message
    charge.outcome = {"type": "issuer_declined", "reason": decline_code,
                      "network_status": "declined_by_network"}  # fmt: skip
    error = {"type": "card_error", "code": code, "decline_code": decline_code,
             "message": message, "charge": charge.id,
             "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
             "payment_method": method._export()}  # fmt: skip
    intent._sim_last_error = error
    intent.payment_method = None
    emit("payment_intent.payment_failed", intent)
    raise StripeError(402, message, type="card_error", code=code, decline_code=decline_code,
                      charge=charge.id, payment_method=method._export(),
                      payment_intent=intent._export())  # fmt: skip


async def list_intents(request: web.Request) -> web.Response:
    params = query_params(request)
    expand = params.pop("expand", None)
    customer = params.get("customer")
    created = created_filter(params)
    intents = [pi for pi in every(PaymentIntent)
               if (customer is None or pi.customer == customer) and created(pi)]  # fmt: skip
    return answer(page("/v1/payment_intents", intents, params)._export(expand=expand))


async def create_refund(request: web.Request) -> web.Response:
    data = await post_params(request)
    expand = data.pop("expand", None)
    charge = _refunded_charge(data.get("charge"), data.get("payment_intent"))
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise invalid(f"Charge {charge.id} has already been refunded.",
                      code="charge_already_refunded")  # fmt: skip
    amount = cents(data.get("amount"), "amount", required=False)
    if amount is None:
        amount = left
    if amount <= 0 or amount > left:
        raise invalid(f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount "
                      f"on charge (${left / 100:.2f})", param="amount",
                      code="amount_too_large")  # fmt: skip
    refund = Refund(charge=charge.id, amount=amount, metadata=metadata(data.get("metadata")))
    refund.payment_intent = charge.payment_intent
    refund.reason = data.get("reason")
    refund.failure_reason = None
    emit("refund.created", refund)
    emit("charge.refunded", charge)
    return answer(refund._export(expand=expand))


def _refunded_charge(charge_id: Any, intent_id: Any) -> Charge:
    if (charge_id is None) == (intent_id is None):
        raise invalid("Exactly one of charge or payment_intent is required.", param="charge")
    if intent_id is not None:
        intent = find(PaymentIntent, intent_id, "payment_intent")
        charge = intent.latest_charge
        if charge is None or charge.status != "succeeded":
            raise invalid(f"This PaymentIntent ({intent_id}) does not have a successful charge "
                          "to refund.", param="payment_intent")  # fmt: skip
        return charge
    charge = find(Charge, charge_id, "charge")
    if charge.status != "succeeded":
        raise invalid("Cannot refund a failed payment.", param="charge")
    return charge


ROUTES = (
    ("POST", "/v1/payment_intents", create_intent),
    ("GET", "/v1/payment_intents", list_intents),
    ("POST", "/v1/payment_intents/{id}/confirm", confirm_intent),
    ("POST", "/v1/refunds", create_refund),
)
