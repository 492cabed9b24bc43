from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import pytest

from vgen.domain.errors import InvalidRequest, PayloadTooLarge
from vgen.media.image_check import ImageLimits, check_image
from vgen.media.image_fetch import fetch_image

if TYPE_CHECKING:
    from tests.media.conftest import ImageHost

pytestmark = pytest.mark.anyio

PARAM = "input_reference[0]"
LIMITS = ImageLimits(fetch_timeout_s=5.0)


async def _fetch(
    url: str, client: httpx.AsyncClient, *, limits: ImageLimits = LIMITS, allow_private: bool = True
) -> bytes:
    return await fetch_image(
        url, client=client, limits=limits, allow_private=allow_private, param=PARAM
    )


async def _refusal(
    url: str,
    client: httpx.AsyncClient,
    *,
    code: str,
    error: type[InvalidRequest] = InvalidRequest,
    limits: ImageLimits = LIMITS,
    allow_private: bool = True,
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        await _fetch(url, client, limits=limits, allow_private=allow_private)
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.param == PARAM
    return info.value


@pytest.mark.parametrize(("path", "mime_type"), [("/png", "image/png"), ("/jpeg", "image/jpeg")])
async def test_image_on_an_allowed_private_host_is_fetched(
    image_host: ImageHost, http_client: httpx.AsyncClient, path: str, mime_type: str
) -> None:
    data = await _fetch(image_host.base_url + path, http_client)

    assert check_image(data, limits=LIMITS, param=PARAM).mime_type == mime_type


async def test_loopback_is_refused_without_connecting_by_default(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    hits_before = sum(image_host.hits.values())

    await _refusal(
        image_host.base_url + "/png", http_client, code="image_url_forbidden", allow_private=False
    )

    assert sum(image_host.hits.values()) == hits_before


async def test_localhost_name_is_resolved_pinned_and_sent_as_host_header(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    url = f"http://localhost:{image_host.port}/png"

    data = await _fetch(url, http_client)

    assert data.startswith(b"\x89PNG")
    assert image_host.host_headers[-1] == f"localhost:{image_host.port}"


async def test_connection_is_pinned_to_the_address_that_was_checked(
    image_host: ImageHost, http_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: the name answers a vetted address once, then something else. Any second
    # lookup (as an unpinned client would make to connect) fails here, so success proves pinning.
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in ("rebind.test", b"rebind.test"):
            return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]
        lookups.append(str(host))
        if len(lookups) > 1:
            raise socket.gaierror(socket.EAI_NONAME, "rebound")
        return real_getaddrinfo("127.0.0.1", *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)

    data = await _fetch(f"http://rebind.test:{image_host.port}/png", http_client)

    assert data.startswith(b"\x89PNG")
    assert len(lookups) == 1
    assert image_host.host_headers[-1] == f"rebind.test:{image_host.port}"


async def test_localhost_name_is_refused_by_default(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    url = f"http://localhost:{image_host.port}/png"

    await _refusal(url, http_client, code="image_url_forbidden", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/x.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http:///no-host.png",
        "http://user:secret@127.0.0.1/x.png",
        "http://[::1/x.png",
    ],
)
async def test_bad_scheme_host_or_credentials_are_forbidden(
    http_client: httpx.AsyncClient, url: str
) -> None:
    await _refusal(url, http_client, code="image_url_forbidden")


async def test_endless_body_without_length_is_cut_at_the_size_cap(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    limits = ImageLimits(max_bytes=200_000, fetch_timeout_s=5.0)

    await _refusal(
        image_host.base_url + "/huge",
        http_client,
        code="image_too_large",
        error=PayloadTooLarge,
        limits=limits,
    )


async def test_declared_length_over_cap_is_refused_before_reading(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    # The server sends headers only and then waits: reading the body would hang to the timeout.
    started = time.monotonic()

    await _refusal(
        image_host.base_url + "/declares-huge",
        http_client,
        code="image_too_large",
        error=PayloadTooLarge,
    )

    assert time.monotonic() - started < 2


async def test_small_content_length_cannot_hide_a_large_decoded_body(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    # ~5 KB of gzip on the wire (an honest Content-Length) expands to 5 MB.
    limits = ImageLimits(max_bytes=1_000_000, fetch_timeout_s=5.0)

    await _refusal(
        image_host.base_url + "/gzip-bomb",
        http_client,
        code="image_too_large",
        error=PayloadTooLarge,
        limits=limits,
    )


async def test_http_error_status_is_a_fetch_failure_naming_the_status(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    error = await _refusal(image_host.base_url + "/missing", http_client, code="image_fetch_failed")

    assert "404" in error.message


async def test_relative_redirect_chain_within_the_limit_is_followed(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    data = await _fetch(image_host.base_url + "/redirect/2", http_client)

    assert data.startswith(b"\x89PNG")


async def test_redirect_chain_over_the_limit_is_a_fetch_failure(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    image_host.hits.clear()

    await _refusal(image_host.base_url + "/redirect/3", http_client, code="image_fetch_failed")

    assert image_host.hits["/png"] == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fe80::1]/",
        "file:///etc/passwd",
    ],
)
async def test_redirect_to_a_forbidden_target_is_refused(
    image_host: ImageHost, http_client: httpx.AsyncClient, target: str
) -> None:
    # allow_private=True admits the loopback host, but never link-local: the policy must refuse
    # before any connection (a connect to 169.254.169.254 would fail differently, or hang).
    url = f"{image_host.base_url}/redirect-to?url={quote(target, safe='')}"

    await _refusal(url, http_client, code="image_url_forbidden")


async def test_every_redirect_hop_is_revalidated(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    # 0.0.0.0 would reach the loopback host, so only a re-check of the hop stops this fetch.
    image_host.hits.clear()
    target = f"http://0.0.0.0:{image_host.port}/png"
    url = f"{image_host.base_url}/redirect-to?url={quote(target, safe='')}"

    await _refusal(url, http_client, code="image_url_forbidden")

    assert image_host.hits["/png"] == 0


async def test_private_address_is_refused_by_default(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    await _refusal(
        f"http://10.0.0.1:{image_host.port}/png",
        http_client,
        code="image_url_forbidden",
        allow_private=False,
    )


async def test_slow_trickling_body_hits_the_overall_time_limit(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    limits = ImageLimits(fetch_timeout_s=0.3)
    started = time.monotonic()

    await _refusal(
        image_host.base_url + "/slow", http_client, code="image_fetch_failed", limits=limits
    )

    assert time.monotonic() - started < 1.5


async def test_non_image_content_is_fetched_but_fails_the_check(
    image_host: ImageHost, http_client: httpx.AsyncClient
) -> None:
    data = await _fetch(image_host.base_url + "/text", http_client)

    with pytest.raises(InvalidRequest) as info:
        check_image(data, limits=LIMITS, param=PARAM)
    assert info.value.code == "unsupported_image_type"
    assert info.value.param == PARAM


async def test_unresolvable_host_is_a_fetch_failure(http_client: httpx.AsyncClient) -> None:
    await _refusal("http://no-such-host.invalid/x.png", http_client, code="image_fetch_failed")


async def test_connection_refused_is_a_fetch_failure(http_client: httpx.AsyncClient) -> None:
    # Port 1 on loopback: nothing listens there.
    await _refusal("http://127.0.0.1:1/x.png", http_client, code="image_fetch_failed")


async def test_https_is_pinned_yet_verifies_the_certificate_for_the_host_name(
    tls_image_host: ImageHost, tls_client: httpx.AsyncClient
) -> None:
    url = f"https://localhost:{tls_image_host.port}/png"

    data = await _fetch(url, tls_client)

    assert data.startswith(b"\x89PNG")
    assert tls_image_host.host_headers[-1] == f"localhost:{tls_image_host.port}"


async def test_https_certificate_not_valid_for_the_url_host_fails(
    tls_image_host: ImageHost, tls_client: httpx.AsyncClient
) -> None:
    # The certificate names `localhost` only; pinning must not switch verification off.
    await _refusal(
        f"https://127.0.0.1:{tls_image_host.port}/png", tls_client, code="image_fetch_failed"
    )
