"""Shared fixtures: databases (SQLite always, PostgreSQL when VGEN_TEST_DATABASE_URL is set),
settings in a temp data dir, and a live vgen server on loopback."""

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

from vgen.config import Settings

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
