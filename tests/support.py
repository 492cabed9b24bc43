"""Test support: run a vgen app (or any ASGI app) under uvicorn on 127.0.0.1 in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import sqlalchemy as sa
import uvicorn

from vgen.api.app import create_app
from vgen.config import Settings
from vgen.service.bootstrap import ensure_admin_key
from vgen.store.database import normalise_url
from vgen.store.store import Store
from vgen.store.tables import tasks


class HandClock:
    """A clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedUvicorn:
    """An ASGI app served on a loopback port (ephemeral unless given) until `stop()`."""

    def __init__(self, app: Any, *, port: int = 0, lifespan: str = "on") -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan=lifespan,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.port: int = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@dataclass
class LiveServer:
    url: str
    admin_key: str
    settings: Settings
    _uvicorn: ThreadedUvicorn

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self) -> None:
        self._uvicorn.stop()


def bootstrap_admin(settings: Settings) -> str:
    """The admin key of `settings`' database, created as `vgen serve` does on first start."""

    async def make() -> str:
        store = Store.open(settings.resolved_database_url())
        try:
            key = await ensure_admin_key(store, settings.data_dir, clock=time.time)
        finally:
            await store.close()
        return key or (settings.data_dir / "admin.key").read_text().strip()

    return asyncio.run(make())


def start_live_server(settings: Settings, **kwargs: Any) -> LiveServer:
    admin_key = bootstrap_admin(settings)
    # Signed URLs carry the public URL, so the port is chosen before the app is built.
    port = free_port()
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}", "port": port})
    server = ThreadedUvicorn(create_app(settings, **kwargs), port=port)
    return LiveServer(url=server.url, admin_key=admin_key, settings=settings, _uvicorn=server)


class _Fake(Protocol):
    """A fake upstream of `tests/fakes`: an ASGI app, and where it is served once started."""

    base_url: str

    def app(self) -> Any: ...


FakeT = TypeVar("FakeT", bound=_Fake)


@contextlib.contextmanager
def serving(fake: FakeT) -> Iterator[FakeT]:
    """`fake` served on loopback for the block (its `base_url` set), stopped afterwards."""
    server = ThreadedUvicorn(fake.app(), lifespan="off")
    fake.base_url = server.url
    try:
        yield fake
    finally:
        server.stop()


def is_parked(settings: Settings, task_id: str) -> bool:
    """The task waits for its next upstream poll: an upstream accepted it and no worker holds
    it. A test moves a hand clock to the poll only then; moved earlier, the worker would park
    the task past the moved clock, and the poll would never come due."""
    engine = sa.create_engine(normalise_url(settings.resolved_database_url()))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(tasks.c.upstream_id, tasks.c.lease_owner).where(tasks.c.id == task_id)
            ).first()
    finally:
        engine.dispose()
    return row is not None and row.upstream_id is not None and row.lease_owner is None
