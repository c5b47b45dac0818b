"""SetupIntent confirmation as Stripe does it: the card attached to the customer, and events.

localstripe confirms a SetupIntent but leaves the card unattached, sends no event, and answers a
declined card with an `invalid_request_error`. Here a success attaches the payment method to the
intent's customer and sends setup_intent.succeeded (the frontend's confirmation reaches Hearth
by webhook); a card needing authentication sends setup_intent.requires_action; a decline
answers 402 `card_error` with the intent (back to `requires_payment_method`, as Stripe leaves
it, where localstripe cancels it) in `error.setup_intent` and sends
setup_intent.setup_failed. `POST /v1/setup_intents/{id}/_authenticate {client_secret,
success}` plays the client's 3-D Secure answer, as localstripe's route does for PaymentIntents.

Create refuses a `customer` Stripe does not know (400 `resource_missing`, `param` customer), as
Stripe does; localstripe makes the intent for it, so a restarted simulator took every customer
id Hearth kept from the one before.
"""

from __future__ import annotations

from typing import NoReturn

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import PaymentMethod, SetupIntent

from infra.stripe.errors import StripeError, answer, invalid
from infra.stripe.objects import emit, find, flag, known_customer, post_params, query_params
from infra.stripe.payments import DECLINED


async def create_setup_intent(request: web.Request) -> web.Response:
    data = await post_params(request)
    expand = data.pop("expand", None)
    known_customer(data.get("customer"))
    return answer(SetupIntent._api_create(**data)._export(expand=expand))


async def confirm_setup_intent(request: web.Request) -> web.Response:
    intent_id = request.match_info["id"]
    data = {**await post_params(request), **query_params(request)}
    expand = data.pop("expand", None)
    try:
        intent = SetupIntent._api_confirm(id=intent_id, **data)
    except UserError as error:
        if error.code != 402:
            raise
        _fail(find(SetupIntent, intent_id))
    if intent.status == "succeeded":
        _succeed(intent)
    elif intent.status == "requires_action":
        emit("setup_intent.requires_action", intent)
    return answer(intent._export(expand=expand))


async def authenticate_setup_intent(request: web.Request) -> web.Response:
    """The client's 3-D Secure answer (what localstripe's `_authenticate` is to PaymentIntents)."""
    intent = find(SetupIntent, request.match_info["id"])
    data = await post_params(request)
    if data.get("client_secret") != intent.client_secret:
        raise StripeError(401, "Unauthorized")
    if intent.status != "requires_action":
        raise invalid(f"SetupIntent {intent.id} is {intent.status}, not requires_action")
    intent.next_action = None
    if not flag(data.get("success"), "success"):
        _fail(intent)
    intent.status = "succeeded"
    _succeed(intent)
    return answer(intent._export())


def _succeed(intent: SetupIntent) -> None:
    method = PaymentMethod._api_retrieve(intent.payment_method)
    if intent.customer is not None and method.customer is None:
        method.customer = intent.customer
    emit("setup_intent.succeeded", intent)


def _fail(intent: SetupIntent) -> NoReturn:
    # Stripe waits for another card; localstripe cancels the intent.
    intent.status, intent.payment_method = "requires_payment_method", None
    intent.last_setup_error = {"type": "card_error", "code": "card_declined",
                               "decline_code": "generic_decline", "message": DECLINED}  # fmt: skip
    emit("setup_intent.setup_failed", intent)
    raise StripeError(402, DECLINED, type="card_error", code="card_declined",
                      decline_code="generic_decline", setup_intent=intent._export())  # fmt: skip


ROUTES = (
    ("POST", "/v1/setup_intents", create_setup_intent),
    ("POST", "/v1/setup_intents/{id}/confirm", confirm_setup_intent),
    ("POST", "/v1/setup_intents/{id}/_authenticate", authenticate_setup_intent),
)
