"""Address policy: which IP addresses the server may connect to on a client's behalf.

Invariant: a host is allowed only if every address it resolves to is allowed (API.md §5), so a
name that mixes a public and an internal address is refused as a whole.
"""

from __future__ import annotations

import ipaddress
import socket

import anyio

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressError(Exception):
    """A host the server may not, or cannot, connect to; each caller maps it to its own error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AddressRefused(AddressError):
    """The host resolves to at least one address the policy refuses."""


class HostUnresolvable(AddressError):
    """The host name has no address (DNS failed or answered nothing)."""


_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")

# What `allow_private=True` opens up: loopback, RFC 1918, shared (CGNAT) and unique-local ranges.
# Link-local (the cloud metadata endpoint lives there), multicast, unspecified and reserved space
# stay closed even then: API.md §5 lets operators allow *private* ranges, nothing more.
_PRIVATE_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.IPv4Network("127.0.0.0/8"),
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
    ipaddress.IPv4Network("100.64.0.0/10"),
    ipaddress.IPv6Network("::1/128"),
    ipaddress.IPv6Network("fc00::/7"),
)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form really reaches, if it is one."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """Whether `ip` is anything but a public unicast address (judging transition forms by the
    IPv4 address they carry)."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_forbidden_address(embedded)
    # `is_global` alone is not enough: Python counts multicast as global, and its tables of
    # special ranges have changed between releases, so the explicit flags back it up.
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


def _is_private_range(ip: IPAddress) -> bool:
    target = _embedded_ipv4(ip) or ip
    return any(target in network for network in _PRIVATE_NETWORKS)


def _is_allowed(ip: IPAddress, *, allow_private: bool) -> bool:
    if not is_forbidden_address(ip):
        return True
    return allow_private and _is_private_range(ip)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # not an IP literal: ask DNS
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HostUnresolvable(f"could not resolve the host {host!r}") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise HostUnresolvable(f"the host {host!r} has no addresses")
    return addresses


async def resolve_allowed(host: str, port: int, *, allow_private: bool) -> str:
    """Resolve `host` and return one address the caller may connect to.

    The caller must connect to exactly this address (not re-resolve the name), or a DNS answer
    that changes between check and connect would slip past the policy.

    Raises:
        AddressRefused: any address the name resolves to is refused.
        HostUnresolvable: the name does not resolve.
    """
    addresses = await _resolve(host, port)
    if not all(_is_allowed(ip, allow_private=allow_private) for ip in addresses):
        # The message names no address: echoing internal DNS answers would help map a network.
        raise AddressRefused(
            f"the host {host!r} resolves to an address that may not be fetched "
            "(loopback, private, link-local, multicast or reserved)"
        )
    # Prefer IPv4: we pin a single address and so cannot fall back between families the way a
    # Happy Eyeballs client would, and IPv4 is the family more often actually reachable.
    chosen = next((ip for ip in addresses if ip.version == 4), addresses[0])
    return str(chosen)
