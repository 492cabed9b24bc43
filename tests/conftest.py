"""Shared fixtures: databases (SQLite always, PostgreSQL when VGEN_TEST_DATABASE_URL is set),
settings in a temp data dir, a live vgen server on loopback, an S3 test server with a fresh
bucket per test, and a real MP4 for fake upstreams to serve."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from tests.fakes.reseller import ResellerFake
from tests.s3 import Bucket, S3TestServer
from tests.support import serving
from vgen.config import Settings
from vgen.media.renderer import RenderJob, render_video

if TYPE_CHECKING:
    from tests.support import LiveServer

PG_URL = os.environ.get("VGEN_TEST_DATABASE_URL")

DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pg_schema_url(base: str) -> Iterator[str]:
    schema = "t_" + secrets.token_hex(6)
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in plain else "?"
    try:
        yield f"{plain}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vgen.db'}"
    else:
        assert PG_URL is not None
        yield from _pg_schema_url(PG_URL)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        allow_private_urls=True,
        worker_idle_poll_seconds=0.2,
        lease_seconds=10,
    )


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    from tests.support import start_live_server

    started: list[LiveServer] = []

    def make(settings: Settings, **kwargs: object) -> LiveServer:
        server = start_live_server(settings, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(settings: Settings, make_server: Callable[..., LiveServer]) -> LiveServer:
    """vgen (API + worker + local engine) on 127.0.0.1 with an admin key."""
    return make_server(settings)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    server = S3TestServer()
    yield server
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake keys through the standard AWS chain; no profile or config file of this machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bucket(s3_server: S3TestServer, aws_credentials: None) -> Bucket:
    made = Bucket(name="vgen-" + secrets.token_hex(6), endpoint_url=s3_server.endpoint_url)
    made.client().create_bucket(Bucket=made.name)
    return made


@pytest.fixture(scope="session")
def upstream_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real (short) MP4 for fake providers to serve: vgen probes what it downloads."""
    path = tmp_path_factory.mktemp("upstream") / "clip.mp4"
    render_video(RenderJob(str(path), 640, 360, "upstream clip", duration_s=2))
    return path.read_bytes()


def wait_for(check: Callable[[], object], *, timeout_s: float = 60, message: str = "") -> object:
    """Poll `check` until it returns something truthy; fail with `message` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s}s waiting for {message or check}")


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    """A fake reseller (the Veo task dialect) on loopback, serving `upstream_mp4`."""

    with serving(ResellerFake(video=upstream_mp4)) as fake:
        yield fake
