"""Customers with a card saved off-session through a SetupIntent, as a frontend would."""

from __future__ import annotations

import pytest
import stripe

VISA = "4242424242424242"
DECLINES_WHEN_CHARGED = "4000000000000341"
ALWAYS_AUTHENTICATES = "4000002760003184"


def customer_with_card(client: stripe.StripeClient, number: str = VISA) -> tuple[str, str]:
    """(customer id, payment method id): a SetupIntent confirmed with the card, its default."""
    customer = client.v1.customers.create(params={"email": "client@example.test"})
    setup = client.v1.setup_intents.create(
        params={"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]}
    )
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = client.v1.payment_methods.create(params={"type": "card", "card": card})
    confirmed = client.v1.setup_intents.confirm(setup.id, params={"payment_method": method.id})
    if confirmed.status == "requires_action":  # the client passes 3-D Secure in the frontend
        client.raw_request("post", f"/v1/setup_intents/{setup.id}/_authenticate",
                           client_secret=confirmed.client_secret, success="true")  # fmt: skip
        confirmed = client.v1.setup_intents.retrieve(setup.id)
    assert (confirmed.status, confirmed.payment_method) == ("succeeded", method.id)
    # Confirming attached the card to the customer, as Stripe does.
    assert client.v1.payment_methods.retrieve(method.id).customer == customer.id
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": method.id}}
    )
    return customer.id, method.id


def charge_params(customer: str, method: str, amount: int = 10_000, **extra: object) -> dict:
    """An off-session PaymentIntent confirmed at once, as Hearth charges at completion."""
    return {
        "amount": amount,
        "currency": "usd",
        "customer": customer,
        "payment_method": method,
        "off_session": True,
        "confirm": True,
        "metadata": {"hearth_session_id": "s-1"},
        **extra,
    }


def declined(client: stripe.StripeClient, number: str) -> stripe.CardError:
    """The 402 of an off-session charge on a new customer's card `number`."""
    customer, method = customer_with_card(client, number)
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(params=charge_params(customer, method))
    return raised.value
