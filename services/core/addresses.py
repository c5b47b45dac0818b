"""The client's address, believing X-Forwarded-For only from proxies we run.

Behind a load balancer every request's peer is the balancer, so a per-address limit keyed on the
peer would put every user in one bucket. `HEARTH_TRUSTED_PROXIES` lists the networks of our own
proxies; the forwarded chain is read from the right (the hop nearest us), skipping those, and the
first address not ours is the client. A peer outside the list is the client, whatever it claims.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def parse_networks(value: str) -> tuple[Network, ...]:
    """ "10.0.0.0/8, 192.0.2.7" -> networks; raises ValueError naming the bad entry."""
    networks: list[Network] = []
    for part in value.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or network") from exc
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(value: str, proxies: Sequence[Network]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in proxies)


def resolve_client_address(peer: str, forwarded_for: list[str], proxies: Sequence[Network]) -> str:
    """The client's address from the peer and every X-Forwarded-For header, in order."""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if _address(hop) is None:
            # Garbage in the chain: nothing left of it can be believed; the last good hop is
            # the best we know.
            return peer
        if not _trusted(hop, proxies):
            return str(_address(hop))
        peer = hop
    return peer


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address per-address limits count against."""
    peer = connection.client.host if connection.client else "unknown"
    proxies: tuple[Network, ...] = connection.app.state.settings.trusted_proxy_networks()
    forwarded = connection.headers.getall("x-forwarded-for", [])
    return resolve_client_address(peer, list(forwarded), proxies)
