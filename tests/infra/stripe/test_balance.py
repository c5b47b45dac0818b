"""Stripe's fee on every charge, pending then available, and the USD balance."""

from __future__ import annotations

import httpx
import pytest
import stripe

from infra.stripe.balance import stripe_fee
from tests.infra.stripe.cards import charge_params, customer_with_card


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(50, 31), (100, 33), (1_000, 59), (2_000, 88), (10_000, 320), (1_724, 80), (1_725, 80),
     (1_707, 80), (1_706, 79)],
)  # fmt: skip
def test_the_fee_is_2_9_percent_rounded_half_up_plus_30_cents(amount: int, fee: int) -> None:
    # 1725 * 2.9% = 50.025 -> 50; 1707 * 2.9% = 49.503 -> 50; 1706 * 2.9% = 49.474 -> 49.
    assert stripe_fee(amount) == fee


def _balance(client: stripe.StripeClient) -> tuple[int, int]:
    balance = client.v1.balance.retrieve()
    (available,), (pending,) = balance.available, balance.pending
    assert available.currency == pending.currency == "usd"
    return available.amount, pending.amount


async def test_a_charge_is_pending_then_available(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, method = customer_with_card(stripe_client)
    intent = stripe_client.v1.payment_intents.create(params=charge_params(customer, method, 2_000))
    charge = stripe_client.v1.charges.retrieve(
        intent.latest_charge, params={"expand": ["balance_transaction"]}
    )
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net, txn.status, txn.type) == (
        2_000, 88, 1_912, "pending", "charge")  # fmt: skip
    assert [(d.type, d.amount) for d in txn.fee_details] == [("stripe_fee", 88)]
    assert _balance(stripe_client) == (0, 1_912)
    config = (await stripe_admin.get("/_admin/config")).json()
    await stripe_admin.post("/_admin/clock", json={"advance_s": config["available_delay_s"] - 60})
    assert _balance(stripe_client) == (0, 1_912)
    await stripe_admin.post("/_admin/clock", json={"advance_s": 60})
    assert _balance(stripe_client) == (1_912, 0)
    again = stripe_client.v1.balance_transactions.retrieve(txn.id)
    assert again.status == "available"


async def test_refunds_transfers_and_topups_move_the_available_balance(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await stripe_admin.post("/_admin/config", json={"available_delay_s": 0})
    customer, method = customer_with_card(stripe_client)
    intent = stripe_client.v1.payment_intents.create(params=charge_params(customer, method))
    assert _balance(stripe_client) == (9_680, 0)
    stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1_000})
    assert _balance(stripe_client) == (8_680, 0)  # Stripe keeps its fee
    account = stripe_client.v1.accounts.create(params={"type": "express", "country": "US"})
    transfer = stripe_client.v1.transfers.create(
        params={"amount": 5_000, "currency": "usd", "destination": account.id}
    )
    assert _balance(stripe_client) == (3_680, 0)
    stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 2_000})
    assert _balance(stripe_client) == (5_680, 0)
    stripe_client.v1.topups.create(params={"amount": 10_000, "currency": "usd"})
    assert _balance(stripe_client) == (15_680, 0)
