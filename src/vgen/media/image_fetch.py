"""Image fetch: download a client's http(s) image URL without letting it reach inside our network.

Invariant: every hop connects only to an address `net.address_policy` approved for that hop
(pinned to it by `net.pinning`, so DNS rebinding cannot swap it), and a fetch never reads more
than `max_bytes` nor runs longer than `fetch_timeout_s` in all (API.md §5).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx

from vgen.domain.errors import InvalidRequest, PayloadTooLarge
from vgen.media.image_check import ImageLimits
from vgen.net.address_policy import AddressRefused, HostUnresolvable
from vgen.net.pinning import URLRefused, outbound_url, pinned_stream

_FORBIDDEN = "image_url_forbidden"
_FAILED = "image_fetch_failed"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = {"Accept": "image/*"}


def _parse_url(raw: str, *, param: str) -> httpx.URL:
    try:
        return outbound_url(raw)
    except URLRefused as exc:
        raise InvalidRequest(f"image URL {exc.message}", param=param, code=_FORBIDDEN) from exc


def _redirect_target(current: httpx.URL, location: str, *, param: str) -> httpx.URL:
    try:
        joined = current.join(location)
    except httpx.InvalidURL as exc:
        raise InvalidRequest(
            "image URL redirected to an invalid URL", param=param, code=_FORBIDDEN
        ) from exc
    return _parse_url(str(joined), param=param)


@contextmanager
def _translated_errors(*, param: str) -> Iterator[None]:
    try:
        yield
    except AddressRefused as exc:
        raise InvalidRequest(exc.message, param=param, code=_FORBIDDEN) from exc
    except HostUnresolvable as exc:
        raise InvalidRequest(exc.message, param=param, code=_FAILED) from exc
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
        # Each hop is pinned anew: it must pass the address policy again.
        with _translated_errors(param=param):
            async with pinned_stream(
                client, "GET", current, allow_private=allow_private, headers=_ACCEPT
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
