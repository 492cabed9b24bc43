"""SDK fixtures: a live vgen server (SQLite) and the SDK in both flavours behind one blocking
facade, so every test runs against `Client` and `AsyncClient` alike."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest

from tests.support import LiveServer, start_live_server
from vgen.client import AsyncClient, Client
from vgen.config import Settings


@pytest.fixture
def sdk_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'vgen.db'}",
        allow_private_urls=True,
        worker_idle_poll_seconds=0.1,
    )
    server = start_live_server(settings)
    yield server
    server.stop()


class Sleeps(list[float]):
    """Records every wait the SDK asks for, and waits at most `cap_s` of it for real."""

    cap_s = 0.2


class BlockingFacade:
    """Calls an AsyncClient's coroutines from test code through a blocking portal."""

    def __init__(self, client: AsyncClient, portal: anyio.from_thread.BlockingPortal) -> None:
        self._client = client
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._portal.call(lambda: attribute(*args, **kwargs))

        return call

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@pytest.fixture(params=["sync", "async"])
def make_sdk(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """make_sdk(base_url, api_key, **kwargs) -> a Client, or an AsyncClient behind a facade;
    `.sleeps` on the result lists the waits it asked for."""
    opened: list[Any] = []
    with anyio.from_thread.start_blocking_portal() as portal:

        def make(base_url: str, api_key: str | None = None, **kwargs: Any) -> Any:
            sleeps = Sleeps()
            if request.param == "sync":
                import time

                def sleep(seconds: float) -> None:
                    sleeps.append(seconds)
                    time.sleep(min(seconds, sleeps.cap_s))

                client: Any = Client(base_url, api_key, sleep=sleep, **kwargs)
            else:

                async def asleep(seconds: float) -> None:
                    sleeps.append(seconds)
                    await asyncio.sleep(min(seconds, sleeps.cap_s))

                client = BlockingFacade(
                    AsyncClient(base_url, api_key, sleep=asleep, **kwargs), portal
                )
            client.sleeps = sleeps
            opened.append(client)
            return client

        yield make
        for client in opened:
            client.close()
