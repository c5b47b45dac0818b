"""The simulator as a process: 127.0.0.1 only, no pickle file, admin routes without a key.

`make run` starting it: tests/infra/test_local_run.py.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import stripe

from tests.infra.stripe.cards import customer_with_card
from tests.stripesim import API_KEY

PICKLE = Path("/tmp/localstripe.pickle")


def _stamp() -> float | None:
    return PICKLE.stat().st_mtime if PICKLE.exists() else None


def test_writes_never_touch_localstripes_pickle(stripe_client: stripe.StripeClient) -> None:
    before = _stamp()
    customer_with_card(stripe_client)
    assert _stamp() == before


def test_it_listens_on_loopback_only(stripe_sim: str) -> None:
    port = urlsplit(stripe_sim).port
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    for address in addresses - {"127.0.0.1", "127.0.1.1", "::1"}:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
            sock.settimeout(1)
            assert sock.connect_ex((address, port)) != 0, address


async def test_reset_empties_the_store(
    stripe_client: stripe.StripeClient, stripe_admin: httpx.AsyncClient
) -> None:
    customer, _ = customer_with_card(stripe_client)
    assert (await stripe_admin.post("/_admin/reset")).status_code == 200
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.customers.retrieve(customer)
    assert raised.value.http_status == 404


def test_admin_routes_need_no_key_and_the_api_does(stripe_sim: str) -> None:
    assert httpx.get(f"{stripe_sim}/_admin/health").status_code == 200
    assert httpx.get(f"{stripe_sim}/v1/balance").status_code == 401
    assert httpx.get(f"{stripe_sim}/v1/balance", auth=(API_KEY, "")).status_code == 200
    odd = httpx.get(f"{stripe_sim}/v1/balance", headers={"Authorization": "Digest x"})
    assert odd.status_code == 401


# localstripe's server module registers plain functions as aiohttp handlers when imported.
@pytest.mark.filterwarnings("ignore:Bare functions are deprecated:DeprecationWarning")
def test_make_run_points_the_webhooks_at_the_api_with_hearths_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from infra.stripe.__main__ import (
        DEV_CONNECT_WEBHOOK_SECRET,
        DEV_WEBHOOK_SECRET,
        _endpoints,
        parse_args,
    )
    from services.core.settings import load_settings

    # The simulator's default secrets are the ones Hearth's development settings check.
    dev = load_settings({"HEARTH_ENV": "development"})
    assert dev.stripe_webhook_secret == DEV_WEBHOOK_SECRET
    assert dev.stripe_connect_webhook_secret == DEV_CONNECT_WEBHOOK_SECRET
    monkeypatch.delenv("HEARTH_STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("HEARTH_API_URL", "http://127.0.0.1:8000")
    # An account endpoint and a Connect endpoint, at the same URL, each with its secret.
    account, connect = _endpoints(parse_args(["--webhook-to-api"]))
    url = "http://127.0.0.1:8000/webhooks/stripe"
    assert (account.url, account.secret, account.connect) == (url, DEV_WEBHOOK_SECRET, False)
    assert (connect.url, connect.secret, connect.connect) == (
        url, DEV_CONNECT_WEBHOOK_SECRET, True)  # fmt: skip
    monkeypatch.setenv("HEARTH_STRIPE_WEBHOOK_SECRET", "whsec_other_0123456789")
    monkeypatch.setenv("HEARTH_STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_other_connect_0123456789")
    account, connect = _endpoints(parse_args(["--webhook-to-api"]))
    assert (account.secret, connect.secret) == (
        "whsec_other_0123456789", "whsec_other_connect_0123456789")  # fmt: skip
    assert _endpoints(parse_args([])) == []
