from __future__ import annotations

import ipaddress

import pytest

from vgen.net.address_policy import (
    AddressError,
    AddressRefused,
    HostUnresolvable,
    is_forbidden_address,
    resolve_allowed,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.0.9",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 wrapping 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 wrapping 127.0.0.1
    "64:ff9b:1::1",  # local-use NAT64
    "2001::1",  # Teredo
    "2001:db8::1",  # documentation
    "::127.0.0.1",  # deprecated IPv4-compatible form
]
ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_non_public_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is False


async def _refusal(host: str, *, allow_private: bool) -> AddressError:
    with pytest.raises(AddressError) as info:
        await resolve_allowed(host, 80, allow_private=allow_private)
    return info.value


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.1", "::1", "0x7f.1", "2130706433", "100.64.1.1"]
)
async def test_private_hosts_are_refused_by_default(host: str) -> None:
    error = await _refusal(host, allow_private=False)

    assert type(error) is AddressRefused


@pytest.mark.anyio
async def test_refusal_message_does_not_reveal_the_resolved_address() -> None:
    error = await _refusal("localhost", allow_private=False)

    assert "127.0.0.1" not in error.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("10.0.0.1", "10.0.0.1"),
        ("fd00::5", "fd00::5"),
        ("::ffff:192.168.0.9", "::ffff:c0a8:9"),
    ],
)
async def test_allow_private_admits_private_ranges(host: str, expected: str) -> None:
    assert await resolve_allowed(host, 80, allow_private=True) == expected


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", ["169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "240.0.0.1", "192.0.2.1"]
)
async def test_allow_private_still_refuses_link_local_multicast_and_reserved(host: str) -> None:
    error = await _refusal(host, allow_private=True)

    assert type(error) is AddressRefused


@pytest.mark.anyio
async def test_public_literal_is_returned_without_a_lookup() -> None:
    assert await resolve_allowed("8.8.8.8", 443, allow_private=False) == "8.8.8.8"


@pytest.mark.anyio
async def test_unresolvable_host_is_a_fetch_failure() -> None:
    error = await _refusal("no-such-host.invalid", allow_private=True)

    assert type(error) is HostUnresolvable
