"""Fixtures for media tests: test images, and a live loopback image host with failure knobs."""

from __future__ import annotations

import gzip
import io
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

MakeImage = Callable[..., bytes]


def _make_image(image_format: str, width: int = 400, height: int = 300) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture
def make_image() -> MakeImage:
    """`make_image("PNG", 400, 300)` -> encoded bytes of a flat-colour picture."""
    return _make_image


@dataclass
class ImageHost:
    """What the fake host saw: request counts per path and the Host header of each request."""

    base_url: str = ""
    port: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    host_headers: list[str] = field(default_factory=list)


async def _declares_huge_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Promises a gigabyte, then waits for the client to give up; sends no body."""
    headers = [(b"content-type", b"image/png"), (b"content-length", b"1000000000")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    while (await receive())["type"] != "http.disconnect":
        pass


def _build_app(host: ImageHost) -> ASGIApp:
    png, jpeg = _make_image("PNG"), _make_image("JPEG")
    gzipped_zeros = gzip.compress(b"\0" * 5_000_000)

    async def chunks(size: int, count: int, pause_s: float = 0.0) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"\0" * size
            await anyio.sleep(pause_s)

    async def redirect_chain(request: Request) -> Response:
        remaining = int(request.path_params["n"])
        target = "../png" if remaining == 0 else str(remaining - 1)
        return RedirectResponse(target, status_code=302)

    routes = [
        Route("/png", lambda r: Response(png, media_type="image/png")),
        Route("/jpeg", lambda r: Response(jpeg, media_type="image/jpeg")),
        Route("/text", lambda r: Response("hello", media_type="image/png")),
        Route("/missing", lambda r: Response("gone", status_code=404)),
        Route("/huge", lambda r: StreamingResponse(chunks(64 * 1024, 100))),
        Route("/slow", lambda r: StreamingResponse(chunks(1, 200, pause_s=0.05))),
        Route(
            "/gzip-bomb",
            lambda r: Response(gzipped_zeros, headers={"content-encoding": "gzip"}),
        ),
        Route("/redirect/{n}", redirect_chain),
        Route("/redirect-to", lambda r: RedirectResponse(r.query_params["url"], 302)),
    ]
    app = Starlette(routes=routes)

    async def recording_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host.hits[scope["path"]] += 1
            host.host_headers.append(dict(scope["headers"]).get(b"host", b"").decode())
        # Raw ASGI, because a Starlette response always sends the Content-Length it has.
        if scope.get("path") == "/declares-huge":
            await _declares_huge_length(scope, receive, send)
        else:
            await app(scope, receive, send)

    return recording_app


def _serve(host: ImageHost, scheme: str, **ssl_options: str) -> Iterator[ImageHost]:
    config = uvicorn.Config(
        _build_app(host),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=2,
        **ssl_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "image host did not start within 10 s"
        assert thread.is_alive(), "image host thread died during start-up"
        time.sleep(0.01)
    host.port = server.servers[0].sockets[0].getsockname()[1]
    host.base_url = f"{scheme}://127.0.0.1:{host.port}"
    yield host
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def image_host() -> Iterator[ImageHost]:
    """A live plain-HTTP image host on 127.0.0.1 (a random port)."""
    yield from _serve(ImageHost(), "http")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def localhost_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate valid for the name `localhost` only (not for 127.0.0.1)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    files = TlsFiles(cert=directory / "cert.pem", key=directory / "key.pem")
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt"]
    command += ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(files.key)]
    command += ["-out", str(files.cert)]
    subprocess.run(command, check=True, capture_output=True)
    return files


@pytest.fixture(scope="module")
def tls_image_host(localhost_cert: TlsFiles) -> Iterator[ImageHost]:
    """The same image host over HTTPS, with a certificate for `localhost`."""
    options = {"ssl_certfile": str(localhost_cert.cert), "ssl_keyfile": str(localhost_cert.key)}
    yield from _serve(ImageHost(), "https", **options)


@pytest.fixture
async def http_client(anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment would connect by name and bypass pinning.
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
async def tls_client(
    anyio_backend: str, localhost_cert: TlsFiles
) -> AsyncIterator[httpx.AsyncClient]:
    context = ssl.create_default_context(cafile=str(localhost_cert.cert))
    async with httpx.AsyncClient(trust_env=False, verify=context) as client:
        yield client
