"""One pinned request for every caller: refusals are neutral errors (each caller maps them), and
the request goes to the checked address while naming the real host."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support import ThreadedUvicorn
from vgen.domain.errors import VgenError
from vgen.net.address_policy import AddressRefused, HostUnresolvable
from vgen.net.pinning import URLRefused, outbound_url, pinned_stream

pytestmark = pytest.mark.anyio


@pytest.fixture
def echo_port() -> Iterator[int]:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.headers["host"])

    server = ThreadedUvicorn(Starlette(routes=[Route("/", echo)]), lifespan="off")
    yield int(server.url.rsplit(":", 1)[1])
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as bare:
        yield bare


async def test_request_goes_to_the_checked_address_naming_the_real_host(
    echo_port: int, client: httpx.AsyncClient
) -> None:
    url = outbound_url(f"http://localhost:{echo_port}/")

    async with pinned_stream(client, "GET", url, allow_private=True) as response:
        assert str(response.url).startswith("http://127.0.0.1:")
        assert (await response.aread()).decode() == f"localhost:{echo_port}"


@pytest.mark.parametrize(
    ("url", "error"),
    [("http://127.0.0.1:9/", AddressRefused), ("http://no-such-host.invalid/", HostUnresolvable)],
)
async def test_refusals_are_neutral_errors_and_nothing_is_sent(
    client: httpx.AsyncClient, url: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        async with pinned_stream(client, "GET", outbound_url(url), allow_private=False):
            pytest.fail("a refused host was connected to")

    assert not isinstance(caught.value, VgenError)  # no caller's domain error (image or other)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://example.com/x", "must use http or https"),
        ("http:///x", "has no host"),
        ("http://user:pw@example.com/", "may not contain credentials"),
        ("http://[::1/", "is not a valid URL"),
    ],
)
def test_urls_the_server_may_not_request_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(URLRefused) as caught:
        outbound_url(raw)

    assert caught.value.message == reason
