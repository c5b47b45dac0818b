"""Off-session charges through the real SDK: 200 succeeded, or 402 as Stripe answers."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.infra.stripe.cards import (
    ALWAYS_AUTHENTICATES,
    DECLINES_WHEN_CHARGED,
    VISA,
    charge_params,
    customer_with_card,
    declined,
)


def test_a_saved_card_is_charged_off_session(stripe_client: stripe.StripeClient) -> None:
    customer, method = customer_with_card(stripe_client)
    params = charge_params(customer, method, transfer_group="session_1", description="Copay",
                           capture_method="automatic", error_on_requires_action=True)  # fmt: skip
    intent = stripe_client.v1.payment_intents.create(params=params)
    assert intent.status == "succeeded"
    assert intent.metadata["hearth_session_id"] == "s-1"
    assert (intent.transfer_group, intent.description) == ("session_1", "Copay")
    # An id, as Stripe answers unless expanded.
    assert isinstance(intent.latest_charge, str)
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount, charge.payment_intent, charge.status) == (10_000, intent.id, "succeeded")
    assert charge.metadata["hearth_session_id"] == "s-1"
    expanded = stripe_client.v1.payment_intents.retrieve(
        intent.id, params={"expand": ["latest_charge.balance_transaction"]}
    )
    assert expanded.latest_charge.balance_transaction.fee == 320


def test_a_decline_is_a_402_with_the_intent_awaiting_a_new_card(
    stripe_client: stripe.StripeClient,
) -> None:
    error = declined(stripe_client, DECLINES_WHEN_CHARGED)
    customer = error.error.payment_intent.customer
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error.type == "card_error"
    assert error.error.decline_code == "generic_decline"
    intent = error.error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.decline_code == "generic_decline"
    stored = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert stored.status == "requires_payment_method"
    assert stripe_client.v1.charges.retrieve(error.error.charge).status == "failed"
    # A retry on the same intent with another card succeeds.
    _, good = customer_with_card(stripe_client, VISA)
    stripe_client.v1.payment_methods.attach(good, params={"customer": customer})
    retried = stripe_client.v1.payment_intents.confirm(
        intent.id, params={"payment_method": good, "off_session": True}
    )
    assert retried.status == "succeeded"
    assert retried.last_payment_error is None


def test_authentication_off_session_is_a_402_and_on_session_requires_action(
    stripe_client: stripe.StripeClient,
) -> None:
    error = declined(stripe_client, ALWAYS_AUTHENTICATES)
    assert error.code == "authentication_required"
    assert error.error.decline_code == "authentication_required"
    assert error.error.payment_intent.status == "requires_payment_method"
    customer, method = error.error.payment_intent.customer, error.error.payment_method.id
    on_session = charge_params(customer, method)
    del on_session["off_session"]
    intent = stripe_client.v1.payment_intents.create(params=on_session)
    assert intent.status == "requires_action"
    # error_on_requires_action: a failure rather than an intent waiting for the client.
    with pytest.raises(stripe.CardError) as strict:
        stripe_client.v1.payment_intents.create(
            params={**on_session, "error_on_requires_action": True}
        )
    assert strict.value.code == "authentication_required"


def test_the_minimum_charge_is_fifty_cents(stripe_client: stripe.StripeClient) -> None:
    customer, method = customer_with_card(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method, 49))
    assert (raised.value.http_status, raised.value.code) == (400, "amount_too_small")
    assert raised.value.param == "amount"
    ok = stripe_client.v1.payment_intents.create(params=charge_params(customer, method, 50))
    assert ok.status == "succeeded"


def test_intents_are_listed_by_customer_newest_first(stripe_client: stripe.StripeClient) -> None:
    mine, method = customer_with_card(stripe_client)
    other, other_method = customer_with_card(stripe_client)
    first = stripe_client.v1.payment_intents.create(params=charge_params(mine, method, 1_000))
    second = stripe_client.v1.payment_intents.create(params=charge_params(mine, method, 2_000))
    stripe_client.v1.payment_intents.create(params=charge_params(other, other_method))
    listed = stripe_client.v1.payment_intents.list(params={"customer": mine})
    assert [pi.id for pi in listed.data] == [second.id, first.id]
    since = stripe_client.v1.payment_intents.list(
        params={"customer": mine, "created": {"gte": first.created}}
    )
    assert {pi.id for pi in since.data} == {first.id, second.id}
    later = stripe_client.v1.payment_intents.list(
        params={"customer": mine, "created": {"gt": second.created}}
    )
    assert later.data == []


def test_refunds_by_intent_never_exceed_the_charge(stripe_client: stripe.StripeClient) -> None:
    customer, method = customer_with_card(stripe_client)
    intent = stripe_client.v1.payment_intents.create(params=charge_params(customer, method, 6_000))
    part = stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 4_000})
    assert (part.status, part.amount, part.payment_intent) == ("succeeded", 4_000, intent.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 2_001})
    assert (raised.value.http_status, raised.value.code) == (400, "amount_too_large")
    rest = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 2_000
    with pytest.raises(stripe.InvalidRequestError) as again:
        stripe_client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    listed = stripe_client.v1.refunds.list(params={"payment_intent": intent.id})
    assert sorted(r.amount for r in listed.data) == [2_000, 4_000]
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (6_000, True)


def test_a_failed_charge_cannot_be_refunded(stripe_client: stripe.StripeClient) -> None:
    intent = declined(stripe_client, DECLINES_WHEN_CHARGED).error.payment_intent
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})


async def test_a_forced_decline_declines_a_good_card(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    rule = {"kind": "decline", "path_prefix": "/v1/payment_intents", "count": 1,
            "decline_code": "insufficient_funds"}  # fmt: skip
    assert (await stripe_admin.post("/_admin/faults", json=rule)).status_code == 200
    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method))
    assert raised.value.error.decline_code == "insufficient_funds"
    retried = stripe_client.v1.payment_intents.confirm(
        raised.value.error.payment_intent.id, params={"payment_method": method, "off_session": True}
    )
    assert retried.status == "succeeded"


def test_a_card_declined_at_setup_leaves_the_intent_waiting(
    stripe_client: stripe.StripeClient,
) -> None:
    customer = stripe_client.v1.customers.create()
    setup = stripe_client.v1.setup_intents.create(params={"customer": customer.id})
    card = {"number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = stripe_client.v1.payment_methods.create(params={"type": "card", "card": card})
    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.setup_intents.confirm(setup.id, params={"payment_method": method.id})
    assert raised.value.error.setup_intent.status == "requires_payment_method"
    assert stripe_client.v1.payment_methods.retrieve(method.id).customer is None
    good = customer_with_card(stripe_client)[1]
    again = stripe_client.v1.setup_intents.confirm(setup.id, params={"payment_method": good})
    assert again.status == "succeeded"


async def test_a_customer_stripe_does_not_know_is_refused_as_stripe_refuses_it(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    """After a restart (an empty simulator) a stored customer id is refused on a SetupIntent
    as on a PaymentIntent: 400 resource_missing naming `customer`, nothing made."""
    customer = stripe_client.v1.customers.create().id
    assert stripe_client.v1.setup_intents.create(params={"customer": customer}).customer == customer
    assert (await stripe_admin.post("/_admin/reset")).status_code == 200
    for create in (
        lambda: stripe_client.v1.setup_intents.create(params={"customer": customer}),
        lambda: stripe_client.v1.payment_intents.create(
            params={"amount": 1_000, "currency": "usd", "customer": customer}
        ),
    ):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            create()
        assert (raised.value.http_status, raised.value.code) == (400, "resource_missing")
        assert raised.value.param == "customer"
        assert raised.value.user_message == f"No such customer: '{customer}'"
    assert stripe_client.v1.setup_intents.list().data == []
    assert stripe_client.v1.payment_intents.list().data == []
    fresh = stripe_client.v1.customers.create().id
    assert stripe_client.v1.setup_intents.create(params={"customer": fresh}).customer == fresh


def test_confirming_without_a_card_is_refused(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    params = {"amount": 1_000, "currency": "usd", "customer": customer.id, "confirm": True}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.payment_intents.create(params=params)
    assert raised.value.code == "payment_intent_unexpected_state"
    intent = stripe_client.v1.payment_intents.create(params={**params, "confirm": False})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_intents.confirm(intent.id)


async def test_stripe_js_confirms_a_declined_intent_with_a_card_typed_in(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    """confirmCardPayment: the publishable key, the client secret and the card's details."""
    error = declined(stripe_client, DECLINES_WHEN_CHARGED)
    intent = stripe_client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    path = f"/v1/payment_intents/{intent.id}/confirm"
    card = {"payment_method_data[type]": "card", "payment_method_data[card][number]": VISA,
            "payment_method_data[card][exp_month]": "12",
            "payment_method_data[card][exp_year]": "2034",
            "payment_method_data[card][cvc]": "123"}  # fmt: skip
    for refused in (
        {"key": "pk_test_demo", **card},  # no client secret
        {"key": "pk_test_demo", "client_secret": intent.id + "_secret_wrong", **card},
        {"client_secret": intent.client_secret, **card},  # no key at all
    ):
        response = await stripe_admin.post(path, data=refused)
        assert response.status_code == 401, response.text
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == (
        "requires_payment_method"
    )
    secret = {"key": "pk_test_demo", "client_secret": intent.client_secret}
    response = await stripe_admin.post(path, data={**secret, **card})
    assert response.status_code == 200, response.text
    paid = response.json()
    assert (paid["id"], paid["status"], paid["amount"]) == (intent.id, "succeeded", 10_000)
    # The card typed in paid this intent only: it is not saved to the customer.
    method = stripe_client.v1.payment_methods.retrieve(paid["payment_method"])
    assert (method.card.last4, method.customer) == ("4242", None)
    assert [pi.id for pi in stripe_client.v1.payment_intents.list(
        params={"customer": intent.customer})] == [intent.id]  # fmt: skip
    # The publishable key confirms nothing more: a paid intent is not confirmed twice.
    again = await stripe_admin.post(path, data={**secret, **card})
    assert again.status_code == 400, again.text
