"""Faults by path prefix: timeouts (before or after processing), 4xx, 429 and 5xx answers (also
after processing), slow answers."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from tests.infra.stripe.cards import charge_params, customer_with_card
from tests.stripesim import API_KEY


async def _fault(admin: httpx.AsyncClient, **rule: object) -> None:
    response = await admin.post("/_admin/faults", json=rule)
    assert response.status_code == 200, response.text


async def test_a_timeout_after_processing_then_a_retry_charges_once(
    stripe_sim: str, stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    await _fault(stripe_admin, kind="timeout", path_prefix="/v1/payment_intents", method="POST",
                 count=1, delay_s=0.5, after=True)  # fmt: skip
    key = {"idempotency_key": "charge-session-9-a1"}
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method), options=key)
    listed = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
    assert [pi.status for pi in listed] == ["succeeded"]  # made, though the answer was lost
    retried = stripe_client.v1.payment_intents.create(
        params=charge_params(customer, method), options=key
    )
    assert retried.id == listed[0].id
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"


async def test_the_sdks_own_retry_after_a_timeout_charges_once(
    stripe_sim: str, stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    await _fault(stripe_admin, kind="timeout", path_prefix="/v1/payment_intents", method="POST",
                 count=1, delay_s=3, after=True)  # fmt: skip
    # The SDK times out after 1 s and retries under the Idempotency-Key it sent the first time.
    impatient = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_sim},
                                    http_client=stripe.RequestsClient(timeout=1),
                                    max_network_retries=2)  # fmt: skip
    intent = impatient.v1.payment_intents.create(
        params=charge_params(customer, method), options={"idempotency_key": "charge-s-10-a1"}
    )
    assert intent.last_response.headers["Idempotent-Replayed"] == "true"
    listed = stripe_client.v1.payment_intents.list(params={"customer": customer}).data
    assert [pi.id for pi in listed] == [intent.id]


async def test_a_timeout_before_processing_makes_nothing(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    await _fault(stripe_admin, kind="timeout", path_prefix="/v1/payment_intents", method="POST",
                 count=1, delay_s=0.2)  # fmt: skip
    with pytest.raises(stripe.APIConnectionError):
        stripe_client.v1.payment_intents.create(params=charge_params(customer, method))
    assert stripe_client.v1.payment_intents.list(params={"customer": customer}).data == []


async def test_a_500_for_n_requests_on_one_prefix_only(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await _fault(stripe_admin, kind="error", path_prefix="/v1/transfers", count=2)
    for _ in range(2):
        with pytest.raises(stripe.APIError) as raised:
            stripe_client.v1.transfers.list()
        assert raised.value.http_status == 500
        # Other paths are untouched.
        stripe_client.v1.customers.create(params={"email": "a@example.test"})
    assert stripe_client.v1.transfers.list().data == []
    listing = (await stripe_admin.get("/_admin/faults")).json()["items"]
    assert [(rule["kind"], rule["fired"]) for rule in listing] == [("error", 2)]


async def test_an_injected_500_is_not_stored_under_the_key(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await _fault(stripe_admin, kind="error", path_prefix="/v1/customers", count=1)
    key = {"idempotency_key": "customer-7-a1"}
    with pytest.raises(stripe.APIError):
        stripe_client.v1.customers.create(params={"email": "a@example.test"}, options=key)
    made = stripe_client.v1.customers.create(params={"email": "a@example.test"}, options=key)
    assert made.id.startswith("cus_")


async def test_a_fraction_of_requests_and_slow_answers(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await _fault(stripe_admin, kind="error", path_prefix="/v1/customers", fraction=1.0)
    for _ in range(3):
        with pytest.raises(stripe.APIError):
            stripe_client.v1.customers.list()
    await stripe_admin.delete("/_admin/faults")
    await _fault(stripe_admin, kind="slow", path_prefix="/v1/balance", count=1, delay_s=0.6)
    started = time.monotonic()
    stripe_client.v1.balance.retrieve()
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    stripe_client.v1.balance.retrieve()
    assert time.monotonic() - started < 0.6


@pytest.mark.parametrize(
    "rule",
    [{"kind": "flood", "count": 1}, {"kind": "error"}, {"kind": "error", "count": 0},
     {"kind": "error", "fraction": 2}, {"kind": "slow", "count": 1, "path_prefix": "/_admin/"},
     {"kind": "slow", "count": 1, "delay_s": "long"},
     {"kind": "error", "count": 1, "status": 302}, {"kind": "error", "count": 1, "code": 7}],
)  # fmt: skip
async def test_a_bad_rule_is_refused(stripe_admin: httpx.AsyncClient, rule: dict) -> None:
    response = await stripe_admin.post("/_admin/faults", json=rule)
    assert response.status_code == 400
    assert (await stripe_admin.get("/_admin/faults")).json()["items"] == []


async def test_a_429_and_a_refusal_answer_as_stripe_does_and_process_nothing(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await _fault(stripe_admin, kind="error", path_prefix="/v1/customers", method="POST",
                 count=1, status=429)  # fmt: skip
    await _fault(stripe_admin, kind="error", path_prefix="/v1/customers", method="POST",
                 count=1, status=400, code="account_invalid")  # fmt: skip
    with pytest.raises(stripe.RateLimitError) as limited:
        stripe_client.v1.customers.create(params={"email": "a@example.test"})
    body = limited.value.json_body["error"]  # type: ignore[index]
    assert (limited.value.http_status, body["type"], body["code"]) == (
        429, "rate_limit_error", "rate_limit")  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.customers.create(params={"email": "a@example.test"})
    assert (refused.value.http_status, refused.value.code) == (400, "account_invalid")
    assert stripe_client.v1.customers.list().data == []


async def test_a_5xx_after_processing_made_the_object(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await _fault(stripe_admin, kind="error", path_prefix="/v1/customers", method="POST",
                 count=1, status=502, after=True)  # fmt: skip
    with pytest.raises(stripe.APIError) as raised:
        stripe_client.v1.customers.create(params={"email": "made@example.test"},
                                          options={"idempotency_key": "c-1"})  # fmt: skip
    assert raised.value.http_status == 502
    assert [c.email for c in stripe_client.v1.customers.list().data] == ["made@example.test"]
