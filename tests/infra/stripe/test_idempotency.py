"""Idempotency-Key as Stripe keeps it: one object per key, errors replayed, 24 hours."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.infra.stripe.cards import DECLINES_WHEN_CHARGED, charge_params, customer_with_card
from tests.stripesim import API_KEY


def _intents(client: stripe.StripeClient, customer: str) -> list[str]:
    return [pi.id for pi in client.v1.payment_intents.list(params={"customer": customer}).data]


def test_the_same_key_replays_the_first_answer(stripe_client: stripe.StripeClient) -> None:
    customer, method = customer_with_card(stripe_client)
    key = {"idempotency_key": "charge-session-1-a1"}
    first = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    again = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert again.last_response.body == first.last_response.body
    assert _intents(stripe_client, customer) == [first.id]


def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    stripe_client: stripe.StripeClient,
) -> None:
    customer, method = customer_with_card(stripe_client)
    key = {"idempotency_key": "charge-session-2-a1"}
    stripe_client.v1.payment_intents.create(params=charge_params(customer, method), options=key)
    with pytest.raises(stripe.IdempotencyError) as raised:
        stripe_client.v1.payment_intents.create(
            params=charge_params(customer, method, 10_001), options=key
        )
    assert raised.value.http_status == 400
    # Another endpoint under the same key is refused too.
    with pytest.raises(stripe.IdempotencyError):
        stripe_client.v1.customers.create(params={"email": "x@example.test"}, options=key)
    assert len(_intents(stripe_client, customer)) == 1


def test_a_decline_is_replayed_not_retried(stripe_client: stripe.StripeClient) -> None:
    customer, method = customer_with_card(stripe_client, DECLINES_WHEN_CHARGED)
    key = {"idempotency_key": "charge-session-3-a1"}
    with pytest.raises(stripe.CardError) as first:
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method), options=key)
    with pytest.raises(stripe.CardError) as again:
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method), options=key)
    assert again.value.http_body == first.value.http_body
    assert again.value.headers["Idempotent-Replayed"] == "true"
    assert len(_intents(stripe_client, customer)) == 1


async def test_keys_are_forgotten_after_24_hours(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    key = {"idempotency_key": "charge-session-4-a1"}
    first = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    await stripe_admin.post("/_admin/clock", json={"advance_s": 23 * 3600})
    kept = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    assert kept.id == first.id
    await stripe_admin.post("/_admin/clock", json={"advance_s": 3600})
    fresh = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    assert fresh.id != first.id
    assert "Idempotent-Replayed" not in fresh.last_response.headers


async def test_keys_belong_to_one_api_key(stripe_sim: str, stripe_admin: httpx.AsyncClient) -> None:
    body = {"email": "x@example.test"}
    headers = {"Idempotency-Key": "customer-1"}
    async with httpx.AsyncClient(base_url=stripe_sim) as http:
        one = await http.post("/v1/customers", data=body, headers=headers, auth=(API_KEY, ""))
        other = await http.post("/v1/customers", data=body, headers=headers,
                                auth=("sk_test_another_account", ""))  # fmt: skip
        replay = await http.post("/v1/customers", data=body, headers=headers, auth=(API_KEY, ""))
    assert one.json()["id"] != other.json()["id"]
    assert replay.json()["id"] == one.json()["id"]
