"""Where webhooks may not go: the server's own networks and the cloud's metadata service.

The host name is resolved once, every address is checked against explicit blocked ranges
(`ipaddress.is_global` is not a filter: it misses IPv4 embedded in IPv6, for one), and the
connection is made to the checked address, so DNS cannot answer differently a moment later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/96",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)


class BlockedAddress(Exception):
    """The webhook URL's host is, or resolves to, an address we refuse to call."""


def blocked(address: IPAddress) -> bool:
    return any(
        address in network for network in BLOCKED_NETWORKS if address.version == network.version
    )


async def resolve_checked(host: str, port: int, *, allow_private: bool) -> str:
    """One address of `host` to connect to; BlockedAddress if any of its addresses is refused."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise BlockedAddress(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not allow_private:
        refused = [a for a in addresses if blocked(a)]
        if refused:
            raise BlockedAddress(f"{host} resolves to {refused[0]}, a non-public address")
    return str(addresses[0])
