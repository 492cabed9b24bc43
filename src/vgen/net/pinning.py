"""Pinned requests: one request to a URL a client named, sent to the address `address_policy`
approved for its host while naming the real host in `Host` and in TLS (SNI and certificate).

Invariant: nothing is sent before every address of the host passed the policy, and the
connection goes to exactly the address that was checked, so DNS cannot swap it in between.
Redirects are never followed here: a caller that follows one pins the next hop again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from vgen.net.address_policy import AddressError, resolve_allowed

_DEFAULT_PORTS = {"http": 80, "https": 443}


class URLRefused(AddressError):
    """The URL is not http(s) with a host and no credentials; the message completes
    "the URL ..." (e.g. "must use http or https")."""


def outbound_url(raw: str) -> httpx.URL:
    """`raw` parsed, if the server may send a request to it at all (its address is checked
    when the request is sent).

    Raises:
        URLRefused: not a URL, not http(s), no host, or credentials in it.
    """
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise URLRefused("is not a valid URL") from exc
    if url.scheme not in _DEFAULT_PORTS:
        raise URLRefused("must use http or https")
    if not url.raw_host:
        raise URLRefused("has no host")
    if url.userinfo:
        # Credentials would be sent to whatever host the URL (or a redirect) names.
        raise URLRefused("may not contain credentials")
    return url


@asynccontextmanager
async def pinned_stream(
    client: httpx.AsyncClient,
    method: str,
    url: httpx.URL,
    *,
    allow_private: bool,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
) -> AsyncIterator[httpx.Response]:
    """Send one request to `url` (from `outbound_url`) through its approved address, and yield
    the streamed response.

    `client` must not carry a proxy (a proxy connects by name, undoing the pin) nor default
    credentials (they would go to any host a client names).

    Raises:
        AddressRefused: the host resolves to an address the policy refuses.
        HostUnresolvable: the host does not resolve.
        httpx.HTTPError: the request itself failed; the caller translates it.
    """
    host = url.raw_host.decode("ascii")
    port = url.port or _DEFAULT_PORTS[url.scheme]
    ip = await resolve_allowed(host, port, allow_private=allow_private)
    pinned_headers = {
        **(headers or {}),
        "Host": url.netloc.decode("ascii"),
        # A pooled connection is keyed by IP, so another host on the same IP could reuse a TLS
        # session whose certificate was checked for this one. One request per connection.
        "Connection": "close",
    }
    # TLS must still present and verify the real host name, not the IP we connect to.
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    async with client.stream(
        method,
        url.copy_with(host=ip, fragment=None),
        headers=pinned_headers,
        content=content,
        extensions=extensions,
        follow_redirects=False,
    ) as response:
        yield response
