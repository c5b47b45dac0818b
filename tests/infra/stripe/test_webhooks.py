"""Signed deliveries to the test's receiver: verified by the SDK, retried, duplicated, reordered;
connected accounts' events only to the Connect endpoint, signed with its own secret."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import stripe
from aiohttp import web

from infra import shifted_clock
from tests.infra.stripe.cards import VISA, charge_params
from tests.stripesim import API_KEY, CONNECT_WEBHOOK_SECRET, WEBHOOK_SECRET

# The SDK's async client hands httpx raw bytes as `data=` (its deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning")


@dataclass
class Receiver:
    """An aiohttp endpoint; answers `fail_first` 500s, then 200s; keeps every delivery."""

    url: str = ""
    fail_first: int = 0
    received: list[tuple[bytes, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((await request.read(), request.headers["Stripe-Signature"]))
        if len(self.received) <= self.fail_first:
            return web.Response(status=500)
        return web.Response(status=200)

    def events(self, secret: str = WEBHOOK_SECRET) -> list[stripe.Event]:
        return [stripe.Webhook.construct_event(body, signature, secret)
                for body, signature in self.received]  # fmt: skip

    async def wait_for(self, count: int, within_s: float = 20) -> None:
        deadline = time.monotonic() + within_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            await asyncio.sleep(0.05)


async def _serve(receiver: Receiver) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/webhooks/stripe", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/stripe"
    return runner


EVENTS = ["setup_intent.succeeded", "payment_intent.succeeded", "payment_intent.payment_failed",
          "charge.refunded", "charge.refund.updated", "transfer.reversed", "topup.created",
          "topup.succeeded", "account.updated", "charge.dispute.created",
          "charge.dispute.closed"]  # fmt: skip


@pytest.fixture
async def receiver(stripe_admin: httpx.AsyncClient) -> AsyncIterator[Receiver]:
    """The account endpoint: the platform's own events."""
    receiver = Receiver()
    runner = await _serve(receiver)
    config = {"webhook_retry_base_s": 0.2, "webhook_max_attempts": 4}
    assert (await stripe_admin.post("/_admin/config", json=config)).status_code == 200
    endpoint = {"url": receiver.url, "secret": WEBHOOK_SECRET, "events": EVENTS}
    assert (await stripe_admin.post("/_admin/webhooks", json=endpoint)).status_code == 200
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def connect_receiver(stripe_admin: httpx.AsyncClient) -> AsyncIterator[Receiver]:
    """A Connect endpoint (connect=true) with its own secret: connected accounts' events."""
    receiver = Receiver()
    runner = await _serve(receiver)
    endpoint = {"url": receiver.url, "secret": CONNECT_WEBHOOK_SECRET, "events": EVENTS,
                "connect": True}  # fmt: skip
    made = await stripe_admin.post("/_admin/webhooks", json=endpoint)
    assert (made.status_code, made.json()["connect"]) == (200, True)
    yield receiver
    await runner.cleanup()


def _client(stripe_sim: str) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": stripe_sim},
                               max_network_retries=0)  # fmt: skip


async def _charge(client: stripe.StripeClient, number: str = VISA) -> stripe.PaymentIntent:
    customer = await client.v1.customers.create_async(params={"email": "c@example.test"})
    card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = await client.v1.payment_methods.create_async(params={"type": "card", "card": card})
    await client.v1.payment_methods.attach_async(method.id, params={"customer": customer.id})
    return await client.v1.payment_intents.create_async(
        params=charge_params(customer.id, method.id)
    )


async def test_events_arrive_signed_and_verifiable(stripe_sim: str, receiver: Receiver) -> None:
    client = _client(stripe_sim)
    intent = await _charge(client)
    await receiver.wait_for(1)
    (event,) = receiver.events()
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    # The event can be read back, as a handler re-reads it.
    assert (await client.v1.events.retrieve_async(event.id)).type == event.type
    body, signature = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"succeeded", b"failed"), signature,
                                       WEBHOOK_SECRET)  # fmt: skip


async def test_a_500_is_retried_with_a_fresh_signature(
    stripe_sim: str, receiver: Receiver, stripe_admin: httpx.AsyncClient
) -> None:
    receiver.fail_first = 2
    await _charge(_client(stripe_sim))
    await receiver.wait_for(3)
    bodies = {body for body, _ in receiver.received}
    assert len(bodies) == 1  # the same event each time
    events = receiver.events()  # each attempt verifies on its own
    assert len({e.id for e in events}) == 1
    stamps = [int(sig.split(",")[0].removeprefix("t=")) for _, sig in receiver.received]
    assert stamps == sorted(stamps)
    log = (await stripe_admin.get("/_admin/webhooks/deliveries")).json()["items"]
    assert [(a["attempt"], a["status"]) for a in log] == [(1, 500), (2, 500), (3, 200)]
    await asyncio.sleep(1)
    assert len(receiver.received) == 3  # nothing after the 2xx


async def test_duplicates_and_reordering_are_switchable(
    stripe_sim: str, receiver: Receiver, stripe_admin: httpx.AsyncClient
) -> None:
    client = _client(stripe_sim)
    await stripe_admin.post("/_admin/webhooks/switches", json={"duplicates": 1.0, "hold": True})
    await client.v1.topups.create_async(params={"amount": 1_000, "currency": "usd"})
    await asyncio.sleep(0.3)
    assert receiver.received == []  # held
    released = await stripe_admin.post("/_admin/webhooks/release", json={"order": "reverse"})
    assert released.json() == {"released": 2}
    await receiver.wait_for(4)
    types = [event.type for event in receiver.events()]
    assert sorted(types) == ["topup.created", "topup.created", "topup.succeeded",
                             "topup.succeeded"]  # fmt: skip
    assert types[0] == "topup.succeeded"  # out of order: the later event first


async def test_refund_dispute_and_reversal_events(
    stripe_sim: str, receiver: Receiver, connect_receiver: Receiver,
    stripe_admin: httpx.AsyncClient,
) -> None:  # fmt: skip
    client = _client(stripe_sim)
    await stripe_admin.post("/_admin/config", json={"available_delay_s": 0})
    intent = await _charge(client)
    refund = await client.v1.refunds.create_async(
        params={"payment_intent": intent.id, "amount": 500}
    )
    failed = await stripe_admin.post(f"/_admin/refunds/{refund.id}/fail", json={})
    assert failed.json()["status"] == "failed"
    account = await client.v1.accounts.create_async(params={"type": "custom"})
    transfer = await client.v1.transfers.create_async(
        params={"amount": 100, "currency": "usd", "destination": account.id}
    )
    await client.v1.transfers.reversals.create_async(transfer.id)
    dispute = await stripe_admin.post("/_admin/disputes", json={"charge": intent.latest_charge})
    closed = await stripe_admin.post(f"/_admin/disputes/{dispute.json()['id']}/close",
                                     json={"status": "lost"})  # fmt: skip
    assert closed.json()["status"] == "lost"
    await client.v1.accounts.update_async(account.id, params={"metadata": {"a": "b"}})
    expected = ["payment_intent.succeeded", "charge.refunded", "charge.refund.updated",
                "charge.dispute.created", "charge.dispute.closed", "transfer.reversed"]  # fmt: skip
    await receiver.wait_for(len(expected))
    assert sorted(e.type for e in receiver.events()) == sorted(expected)
    # The connected account's own event went to the Connect endpoint only.
    await connect_receiver.wait_for(1)
    (updated,) = connect_receiver.events(CONNECT_WEBHOOK_SECRET)
    assert (updated.type, updated.account) == ("account.updated", account.id)
    balance = await client.v1.balance.retrieve_async()
    # 10,000 - 320 fee - 500 refund + 500 failed refund - 10,000 - 1,500 dispute fee.
    assert balance.available[0].amount == -1_820


async def test_the_signature_uses_the_send_time(stripe_sim: str, receiver: Receiver) -> None:
    receiver.fail_first = 1
    await _charge(_client(stripe_sim))
    await receiver.wait_for(2)
    first, second = (int(sig.split(",")[0].removeprefix("t=")) for _, sig in receiver.received)
    # infra's clock: shifted like Hearth's in a run as on another day, so its tolerance holds.
    assert abs(second - shifted_clock.now().timestamp()) < 60
    assert second >= first


async def test_a_confirmed_setup_intent_is_announced(stripe_sim: str, receiver: Receiver) -> None:
    client = _client(stripe_sim)
    customer = await client.v1.customers.create_async()
    setup = await client.v1.setup_intents.create_async(params={"customer": customer.id})
    card = {"number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = await client.v1.payment_methods.create_async(params={"type": "card", "card": card})
    await client.v1.setup_intents.confirm_async(setup.id, params={"payment_method": method.id})
    await receiver.wait_for(1)
    (event,) = receiver.events()
    assert (event.type, event.data.object.id) == ("setup_intent.succeeded", setup.id)
    assert event.data.object.payment_method == method.id


async def test_connected_accounts_events_go_to_the_connect_endpoint_with_its_secret(
    stripe_sim: str, receiver: Receiver, connect_receiver: Receiver,
    stripe_admin: httpx.AsyncClient,
) -> None:  # fmt: skip
    client = _client(stripe_sim)
    account = await client.v1.accounts.create_async(params={"type": "express"})
    await client.v1.accounts.update_async(account.id, params={"payouts_enabled": False})  # type: ignore[typeddict-unknown-key]
    await client.v1.topups.create_async(params={"amount": 1_000, "currency": "usd"})
    await connect_receiver.wait_for(1)
    await receiver.wait_for(2)
    await asyncio.sleep(0.3)  # nothing else on its way to either endpoint
    (updated,) = connect_receiver.events(CONNECT_WEBHOOK_SECRET)
    assert (updated.type, updated.account, updated.data.object.id) == (
        "account.updated", account.id, account.id)  # fmt: skip
    assert updated.data.object.payouts_enabled is False
    body, signature = connect_receiver.received[0]
    # Signed with the Connect endpoint's secret, not the account endpoint's.
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    # The platform's own events (the top-up's) went to the account endpoint only, no `account`.
    platform = receiver.events()
    assert sorted(e.type for e in platform) == ["topup.created", "topup.succeeded"]
    assert all("account" not in e for e in platform)
    listed = (await stripe_admin.get("/_admin/webhooks")).json()["items"]
    assert sorted(e["connect"] for e in listed) == [False, True]
    # Read back as Stripe keeps it.
    assert (await client.v1.events.retrieve_async(updated.id)).account == account.id
