"""Image fetch: download a client's http(s) image URL without letting it reach inside our network.

Invariant: every hop connects only to an address `address_policy` approved for that hop (the
connection is pinned to it, so DNS rebinding cannot swap it), and a fetch never reads more than
`max_bytes` nor runs longer than `fetch_timeout_s` in all (API.md §5).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
import httpx

from vgen.domain.errors import InvalidRequest, PayloadTooLarge
from vgen.media.address_policy import resolve_allowed
from vgen.media.image_check import ImageLimits

_FORBIDDEN = "image_url_forbidden"
_FAILED = "image_fetch_failed"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class _PinnedRequest:
    """A GET aimed at a vetted IP while still naming the original host to the server."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str] = field(default_factory=dict)


def _parse_url(raw: str, *, param: str) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise InvalidRequest("image URL is not a valid URL", param=param, code=_FORBIDDEN) from exc
    if url.scheme not in _DEFAULT_PORTS:
        raise InvalidRequest("image URL must use http or https", param=param, code=_FORBIDDEN)
    if not url.raw_host:
        raise InvalidRequest("image URL has no host", param=param, code=_FORBIDDEN)
    if url.userinfo:
        # Credentials would be sent to whatever host the URL (or a redirect) names.
        raise InvalidRequest("image URL may not contain credentials", param=param, code=_FORBIDDEN)
    return url


def _redirect_target(current: httpx.URL, location: str, *, param: str) -> httpx.URL:
    try:
        joined = current.join(location)
    except httpx.InvalidURL as exc:
        raise InvalidRequest(
            "image URL redirected to an invalid URL", param=param, code=_FORBIDDEN
        ) from exc
    return _parse_url(str(joined), param=param)


async def _pin(url: httpx.URL, *, allow_private: bool, param: str) -> _PinnedRequest:
    host = url.raw_host.decode("ascii")
    port = url.port or _DEFAULT_PORTS[url.scheme]
    ip = await resolve_allowed(host, port, allow_private=allow_private, param=param)
    headers = {
        "Host": url.netloc.decode("ascii"),
        "Accept": "image/*",
        # A pooled connection is keyed by IP, so another host on the same IP could reuse a TLS
        # session whose certificate was checked for this one. One request per connection.
        "Connection": "close",
    }
    # TLS must still present and verify the real host name, not the IP we connect to.
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return _PinnedRequest(url.copy_with(host=ip, fragment=None), headers, extensions)


@contextmanager
def _translated_http_errors(*, param: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise InvalidRequest("image URL timed out", param=param, code=_FAILED) from exc
    except httpx.ConnectError as exc:
        raise InvalidRequest(
            "could not connect to the image URL", param=param, code=_FAILED
        ) from exc
    except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL) as exc:
        raise InvalidRequest("fetching the image URL failed", param=param, code=_FAILED) from exc


async def _read_body(response: httpx.Response, *, max_bytes: int, param: str) -> bytes:
    if not response.is_success:
        raise InvalidRequest(
            f"image URL answered HTTP {response.status_code}", param=param, code=_FAILED
        )
    too_large = PayloadTooLarge(
        f"image at URL is over the limit of {max_bytes} bytes", param=param, code="image_too_large"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    # Content-Length may be absent, or describe compressed bytes: count what we actually get.
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


async def _fetch_following_redirects(
    url: str, *, client: httpx.AsyncClient, limits: ImageLimits, allow_private: bool, param: str
) -> bytes:
    current = _parse_url(url, param=param)
    for _ in range(limits.max_redirects + 1):
        pinned = await _pin(current, allow_private=allow_private, param=param)
        with _translated_http_errors(param=param):
            async with client.stream(
                "GET",
                pinned.url,
                headers=pinned.headers,
                extensions=pinned.extensions,
                follow_redirects=False,  # each hop must pass the address policy again
            ) as response:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or location is None:
                    return await _read_body(response, max_bytes=limits.max_bytes, param=param)
        current = _redirect_target(current, location, param=param)
    raise InvalidRequest(
        f"image URL redirected more than {limits.max_redirects} times", param=param, code=_FAILED
    )


async def fetch_image(
    url: str, *, client: httpx.AsyncClient, limits: ImageLimits, allow_private: bool, param: str
) -> bytes:
    """Fetch the raw bytes behind an http(s) image URL; check them with `check_image` next.

    `client` must not carry default credentials or a proxy: its headers go to any host a client
    names, and a proxy would connect by name, undoing the address pinning.

    Raises:
        InvalidRequest: `image_url_forbidden` (scheme, credentials or address refused, on any hop)
            or `image_fetch_failed` (DNS, connect, timeout, non-2xx, too many redirects).
        PayloadTooLarge: `image_too_large`, the body is over `limits.max_bytes`.
    """
    try:
        with anyio.fail_after(limits.fetch_timeout_s):
            return await _fetch_following_redirects(
                url, client=client, limits=limits, allow_private=allow_private, param=param
            )
    except TimeoutError as exc:
        raise InvalidRequest(
            f"image URL took longer than {limits.fetch_timeout_s:g} s", param=param, code=_FAILED
        ) from exc
