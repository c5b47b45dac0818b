"""Connect accounts, transfers on the available balance, reversals and top-ups."""

from __future__ import annotations

import httpx
import pytest
import stripe


def _account(client: stripe.StripeClient, kind: str = "express") -> str:
    return client.v1.accounts.create(
        params={
            "type": kind,
            "country": "US",
            "email": "p@example.test",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"hearth_provider_id": "7"},
        }
    ).id


def test_accounts_are_created_retrieved_listed_and_updated(
    stripe_client: stripe.StripeClient,
) -> None:
    express, custom = _account(stripe_client), _account(stripe_client, "custom")
    got = stripe_client.v1.accounts.retrieve(custom)
    assert (got.type, got.metadata["hearth_provider_id"], got.payouts_enabled) == (
        "custom", "7", True)  # fmt: skip
    assert got.capabilities["transfers"] == "active"
    assert {a.id for a in stripe_client.v1.accounts.list().data} == {express, custom}
    updated = stripe_client.v1.accounts.update(express, params={"metadata": {"tier": "a"}})
    assert updated.metadata.to_dict() == {"hearth_provider_id": "7", "tier": "a"}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.accounts.create(params={"type": "platinum"})
    assert raised.value.param == "type"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.accounts.retrieve("acct_nobody")
    assert missing.value.http_status == 404


def test_a_transfer_needs_the_available_balance(stripe_client: stripe.StripeClient) -> None:
    destination = _account(stripe_client)
    params = {"amount": 3_000, "currency": "usd", "destination": destination,
              "transfer_group": "payout_41", "metadata": {"payout_id": "41"}}  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.transfers.create(params=params)
    assert (raised.value.http_status, raised.value.code) == (400, "balance_insufficient")
    assert stripe_client.v1.transfers.list(params={"transfer_group": "payout_41"}).data == []
    topup = stripe_client.v1.topups.create(params={"amount": 5_000, "currency": "usd"})
    assert topup.status == "succeeded"
    assert stripe_client.v1.topups.retrieve(topup.id).amount == 5_000
    transfer = stripe_client.v1.transfers.create(params=params)
    assert (transfer.destination, transfer.metadata["payout_id"]) == (destination, "41")
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.transfers.create(params=params)  # 2,000 left


def test_a_transfer_to_an_account_without_transfers_is_refused(
    stripe_client: stripe.StripeClient,
) -> None:
    stripe_client.v1.topups.create(params={"amount": 10_000, "currency": "usd"})
    destination = _account(stripe_client)
    unrequested = {"capabilities": {"transfers": {"requested": False}}}
    updated = stripe_client.v1.accounts.update(destination, params=unrequested)  # type: ignore[arg-type]
    assert updated.capabilities["transfers"] == "inactive"
    params = {"amount": 1_000, "currency": "usd", "destination": destination}
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.transfers.create(params=params)  # type: ignore[arg-type]
    assert (raised.value.http_status, raised.value.code) == (
        400, "insufficient_capabilities_for_transfer")  # fmt: skip
    assert stripe_client.v1.transfers.list(params={"destination": destination}).data == []
    requested = {"capabilities": {"transfers": {"requested": True}}}
    stripe_client.v1.accounts.update(destination, params=requested)  # type: ignore[arg-type]
    assert stripe_client.v1.transfers.create(params=params).amount == 1_000  # type: ignore[arg-type]


def test_transfers_are_listed_by_group_and_destination(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.topups.create(params={"amount": 10_000, "currency": "usd"})
    one, two = _account(stripe_client), _account(stripe_client)
    made = {}
    for destination, group in ((one, "payout_1"), (two, "payout_2"), (one, "payout_3")):
        made[group] = stripe_client.v1.transfers.create(
            params={
                "amount": 100,
                "currency": "usd",
                "destination": destination,
                "transfer_group": group,
            }
        ).id
    by_group = stripe_client.v1.transfers.list(params={"transfer_group": "payout_2"})
    assert [t.id for t in by_group.data] == [made["payout_2"]]
    by_destination = stripe_client.v1.transfers.list(params={"destination": one})
    assert {t.id for t in by_destination.data} == {made["payout_1"], made["payout_3"]}
    both = stripe_client.v1.transfers.list(
        params={"destination": one, "transfer_group": "payout_2"}
    )
    assert both.data == []


def test_reversals_never_exceed_the_transfer(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.topups.create(params={"amount": 10_000, "currency": "usd"})
    transfer = stripe_client.v1.transfers.create(
        params={"amount": 1_000, "currency": "usd", "destination": _account(stripe_client)}
    )
    stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 600})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 401})
    stripe_client.v1.transfers.reversals.create(transfer.id)
    again = stripe_client.v1.transfers.retrieve(transfer.id)
    assert (again.amount_reversed, again.reversed) == (1_000, True)
    listed = stripe_client.v1.transfers.reversals.list(transfer.id)
    assert sorted(r.amount for r in listed.data) == [400, 600]


async def test_a_topup_waits_for_its_delay(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await stripe_admin.post("/_admin/config", json={"topup_delay_s": 3_600})
    topup = stripe_client.v1.topups.create(params={"amount": 2_500, "currency": "usd"})
    assert topup.status == "pending"
    balance = stripe_client.v1.balance.retrieve()
    assert (balance.available[0].amount, balance.pending[0].amount) == (0, 2_500)
    await stripe_admin.post("/_admin/clock", json={"advance_s": 3_600})
    assert stripe_client.v1.topups.retrieve(topup.id).status == "succeeded"
    assert stripe_client.v1.balance.retrieve().available[0].amount == 2_500


async def test_a_pending_topup_can_fail(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    await stripe_admin.post("/_admin/config", json={"topup_delay_s": 3_600})
    topup = stripe_client.v1.topups.create(params={"amount": 2_500, "currency": "usd"})
    failed = await stripe_admin.post(f"/_admin/topups/{topup.id}/fail")
    assert failed.json()["status"] == "failed"
    await stripe_admin.post("/_admin/clock", json={"advance_s": 7_200})
    again = stripe_client.v1.topups.retrieve(topup.id)
    assert (again.status, again.failure_code) == ("failed", "account_closed")
    balance = stripe_client.v1.balance.retrieve()
    assert (balance.available[0].amount, balance.pending[0].amount) == (0, 0)
    assert (await stripe_admin.post(f"/_admin/topups/{topup.id}/fail")).status_code == 400
