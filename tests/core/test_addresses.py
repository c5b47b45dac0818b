"""Per-address limits key on the client, not on our load balancer (trusted proxies)."""

from __future__ import annotations

import pytest

from services.core.addresses import parse_networks, resolve_client_address
from services.core.settings import SettingsError, load_settings

LB = parse_networks("10.0.0.0/8, 2001:db8::/32")


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert resolve_client_address("198.51.100.9", ["203.0.113.5"], ()) == "198.51.100.9"


def test_a_forwarded_address_is_believed_from_a_trusted_proxy() -> None:
    assert resolve_client_address("10.1.2.3", ["203.0.113.5"], LB) == "203.0.113.5"


def test_an_untrusted_peer_cannot_spoof_its_address_with_the_header() -> None:
    # The attack: a client rotates X-Forwarded-For to get a fresh per-address budget each time.
    assert resolve_client_address("198.51.100.9", ["203.0.113.5"], LB) == "198.51.100.9"


def test_the_chain_is_read_from_the_right_skipping_our_own_hops() -> None:
    # The client wrote "6.6.6.6" itself; our balancer appended the real address, then a second
    # internal hop forwarded it.
    chain = ["6.6.6.6, 203.0.113.5, 10.9.9.9"]
    assert resolve_client_address("10.1.2.3", chain, LB) == "203.0.113.5"


def test_repeated_headers_are_one_chain() -> None:
    assert resolve_client_address("10.1.2.3", ["6.6.6.6", "203.0.113.5"], LB) == "203.0.113.5"


def test_garbage_in_the_chain_falls_back_to_the_last_trusted_hop() -> None:
    assert resolve_client_address("10.1.2.3", ["203.0.113.5, not-an-ip"], LB) == "10.1.2.3"


def test_ipv6_clients_behind_a_trusted_proxy() -> None:
    assert resolve_client_address("2001:db8::1", ["2001:db9::7"], LB) == "2001:db9::7"


def test_a_bad_trusted_proxies_setting_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="HEARTH_TRUSTED_PROXIES"):
        load_settings({"HEARTH_ENV": "test", "HEARTH_TRUSTED_PROXIES": "10.0.0.0/8,nope"})
