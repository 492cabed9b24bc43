"""Polling pace and call accounting of remote jobs, driven by the worker with a hand-moved clock:
the first poll waits for the model's typical minimum time (or the target's setting), later ones
come at the target's interval, and every upstream request is counted on the task row."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes.reseller import ResellerFake
from tests.support import HandClock, serving
from vgen.config import Settings
from vgen.domain.catalog import ModelCatalog, ModelSpec
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.engines.registry import engine_http_client
from vgen.engines.relay import RelayEngine
from vgen.storage.local_disk import LocalDiskStorage
from vgen.store.store import Store
from vgen.store.tasks import NewTask
from vgen.worker.runner import Worker

pytestmark = pytest.mark.anyio


@dataclass
class Rig:
    store: Store
    clock: HandClock
    http: httpx.AsyncClient
    storage: LocalDiskStorage
    settings: Settings
    reseller: ResellerFake

    def worker(self, *, first_poll_s: float | None = None) -> Worker:
        engine = RelayEngine(
            base_url=self.reseller.base_url,
            api_key="k",
            client=self.http,
            poll_interval_s=30,
            first_poll_s=first_poll_s,
        )
        catalog = ModelCatalog.with_builtins([ModelSpec("quick_model", "quick", min_seconds=5)])
        return Worker(
            store=self.store,
            engines={"relay": engine},
            storage=self.storage,
            settings=self.settings,
            clock=self.clock,
            catalog=catalog,
        )

    async def add(self, model: str) -> str:
        task_id = new_task_id()
        await self.store.tasks.create(
            NewTask(
                id=task_id,
                tenant_id="t",
                engine="relay",
                request=VideoRequest(model=model, prompt="pacing"),
                created_at=self.clock.now,
                deadline_at=self.clock.now + 3600,
            )
        )
        return task_id

    async def step(self, worker: Worker) -> bool:
        """Claim whatever is due at the clock's time and advance it once."""
        task = await self.store.queue.claim_next(worker.owner_id, now=self.clock.now, lease_s=30)
        if task is None:
            return False
        await worker.process(task)
        return True


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=upstream_mp4, polls_until_done=3)) as fake:
        yield fake


@pytest.fixture
async def rig(tmp_path: Path, database_url: str, reseller: ResellerFake) -> AsyncIterator[Rig]:
    store = Store.open(database_url)
    http = engine_http_client()
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Rig(store, HandClock(), http, LocalDiskStorage(tmp_path / "archive"), settings, reseller)
    await http.aclose()
    await store.close()


@pytest.mark.parametrize(
    ("model", "first_poll_s"), [("veo_3_1_fast", 30), ("veo_3_1_pro", 60), ("quick_model", 5)]
)
async def test_first_poll_waits_for_the_models_typical_minimum_time(
    rig: Rig, model: str, first_poll_s: float
) -> None:
    task_id = await rig.add(model)
    worker = rig.worker()
    submitted_at = rig.clock.now
    assert await rig.step(worker)
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.upstream_id is not None
    assert task.lease_expires_at == pytest.approx(submitted_at + first_poll_s)
    rig.clock.now += first_poll_s - 1
    assert not await rig.step(worker), "polled before the model could have finished"
    rig.clock.now += 1
    assert await rig.step(worker)
    assert rig.reseller.jobs[task.upstream_id].polls == 1


async def test_target_setting_overrides_the_model_and_later_polls_keep_the_interval(
    rig: Rig,
) -> None:
    task_id = await rig.add("veo_3_1_pro")
    worker = rig.worker(first_poll_s=12)
    assert await rig.step(worker)
    rig.clock.now += 11.9
    assert not await rig.step(worker)
    rig.clock.now += 0.1
    assert await rig.step(worker)  # poll 1 of 3: still running
    rig.clock.now += 29.9
    assert not await rig.step(worker), "polled faster than the target's interval"
    rig.clock.now += 0.1
    assert await rig.step(worker)  # poll 2
    rig.clock.now += 30
    assert await rig.step(worker)  # poll 3: done, downloaded, archived
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.state is TaskState.COMPLETED, task


async def test_every_upstream_request_is_counted_on_the_task(rig: Rig) -> None:
    task_id = await rig.add("veo_3_1_fast")
    worker = rig.worker(first_poll_s=0)
    rig.reseller.unavailable = 1  # one 503 on the submit: counted too, and retried
    for _ in range(20):
        if not await rig.step(worker):
            rig.clock.now += 60
        task = await rig.store.tasks.get("t", task_id)
        assert task is not None
        if task.is_terminal:
            break
    assert task.state is TaskState.COMPLETED, task
    # 503 + submit + 3 polls + download
    assert rig.reseller.requests_seen == 6
    assert task.upstream_calls == rig.reseller.requests_seen
