"""PostgreSQL wake-ups: a task that becomes claimable now (created, handed back) is announced
to listening workers at once; a task parked until a later poll is not. And across processes:
an idle `vgen worker` whose safety poll is an hour away still picks up a new task."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from tests.conftest import PG_URL, wait_for
from tests.store.test_queue import T0, add_task
from tests.support import LiveServer
from vgen.config import Settings
from vgen.store.store import Store

pytestmark = pytest.mark.skipif(PG_URL is None, reason="NOTIFY needs PostgreSQL")


class Wakes:
    def __init__(self) -> None:
        self.engines: list[str] = []
        self._changed = anyio.Event()

    @property
    def count(self) -> int:
        return len(self.engines)

    def __call__(self, engine: str) -> None:
        self.engines.append(engine)
        self._changed.set()

    async def past(self, seen: int, *, timeout_s: float = 30) -> int:
        """Wait until more than `seen` wake-ups happened; fails the test after `timeout_s`."""
        with anyio.fail_after(timeout_s):
            while self.count <= seen:
                await self._changed.wait()
                self._changed = anyio.Event()
        return self.count


@pytest.fixture
async def pg_store(database_url: str) -> AsyncIterator[Store]:
    if database_url.startswith("sqlite"):
        pytest.skip("NOTIFY needs PostgreSQL")
    opened = Store.open(database_url)
    yield opened
    await opened.close()


@pytest.mark.anyio
async def test_new_and_handed_back_tasks_are_announced_parked_ones_are_not(
    pg_store: Store,
) -> None:
    wakes = Wakes()
    listener = pg_store.runnable_listener(wakes)
    assert listener is not None
    async with anyio.create_task_group() as group:
        group.start_soon(listener.run)
        await wakes.past(0)  # the look it takes once it listens

        seen = wakes.count
        task_id = await add_task(pg_store, created_at=T0)
        await wakes.past(seen)

        claimed = await pg_store.queue.claim_next("w1", now=T0 + 1, lease_s=30)
        assert claimed is not None and claimed.id == task_id
        # Parked until a poll a minute away: not claimable now, so not announced. A task of
        # another engine made right after is; announcements arrive in commit order, so a
        # `local` one before `relay` would be the park's.
        seen = wakes.count
        assert await pg_store.queue.park(task_id, "w1", until=T0 + 61, now=T0 + 1)
        await add_task(pg_store, created_at=T0 + 1, engine="relay")
        await wakes.past(seen)
        assert wakes.engines[seen:] == ["relay"]

        claimed = await pg_store.queue.claim_next("w1", now=T0 + 62, lease_s=30, engines=["local"])
        assert claimed is not None and claimed.id == task_id
        seen = wakes.count
        assert await pg_store.queue.park(task_id, "w1", until=T0 + 62, now=T0 + 62)  # hand-back
        await wakes.past(seen)
        assert wakes.engines[seen:] == ["local"]
        group.cancel_scope.cancel()


def test_an_idle_worker_process_picks_up_a_new_task_without_polling(
    settings: Settings, make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    if settings.resolved_database_url().startswith("sqlite"):
        pytest.skip("NOTIFY needs PostgreSQL")
    server = make_server(settings.model_copy(update={"run_worker": False}))
    env = {
        **os.environ,
        "VGEN_DATA_DIR": str(server.settings.data_dir),
        "VGEN_DATABASE_URL": server.settings.resolved_database_url(),
        "VGEN_PUBLIC_URL": str(server.settings.public_url),
        "VGEN_WORKER_IDLE_POLL_SECONDS": "3600",  # only a wake-up can start the task
        "VGEN_LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "vgen", "worker"], env=env, stderr=out)
    try:
        wait_for(
            lambda: "listening for runnable tasks" in log.read_text(),
            timeout_s=60,
            message="the worker to listen",
        )
        with server.client() as client:
            created = client.post(
                "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "a paper boat"}
            )
            assert created.status_code == 200, created.text
            task_id = created.json()["id"]
            wait_for(
                lambda: client.get(f"/v1/result/{task_id}").json()["status"] == "completed",
                timeout_s=120,
                message=f"the worker to run the task; log: {log}",
            )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
