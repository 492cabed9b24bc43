"""The worker and sweeper in drain mode with the real local engine: deadlines, retention,
and a lease lost mid-render."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import HandClock
from vgen.config import Settings
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.engines.local import LocalEngine
from vgen.service.artifacts import thumbnail_key
from vgen.storage.local_disk import LocalDiskStorage
from vgen.store.store import Store
from vgen.store.tasks import NewTask
from vgen.worker.runner import Worker
from vgen.worker.sweeper import Sweeper

pytestmark = pytest.mark.anyio


@dataclass
class Rig:
    store: Store
    storage: LocalDiskStorage
    engine: LocalEngine
    settings: Settings
    clock: HandClock

    def worker(self, **overrides: object) -> Worker:
        settings = self.settings.model_copy(update=overrides)
        return Worker(
            store=self.store,
            engines={"local": self.engine},
            storage=self.storage,
            settings=settings,
            clock=self.clock,
        )

    async def add(self, *, deadline_s: float = 600, **request: object) -> str:
        task_id = new_task_id()
        now = self.clock.now
        await self.store.tasks.create(
            NewTask(
                id=task_id,
                tenant_id="t",
                engine="local",
                request=VideoRequest(model="veo_3_1_fast", prompt="worker test", **request),  # type: ignore[arg-type]
                created_at=now,
                deadline_at=now + deadline_s,
            )
        )
        return task_id


@pytest.fixture
async def rig(tmp_path: Path, database_url: str) -> AsyncIterator[Rig]:
    store = Store.open(database_url)
    engine = LocalEngine(processes=1)
    settings = Settings(data_dir=tmp_path, database_url=database_url, worker_concurrency=1)
    yield Rig(store, LocalDiskStorage(tmp_path / "archive"), engine, settings, HandClock())
    await engine.aclose()
    await store.close()


async def test_drained_task_is_archived_and_swept_after_retention(rig: Rig) -> None:
    task_id = await rig.add()
    await rig.worker(retention_seconds=3600).run_until_idle()
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.state is TaskState.COMPLETED, task
    assert task.video_seconds == pytest.approx(8.0, abs=0.05)
    # The render's time is the local engine's duration sample (0 s on the hand clock).
    assert await rig.store.durations.recent("local", "veo_3_1_fast") == [0.0]
    archived = str(task.artifact_key)
    assert (await rig.storage.size(archived) or 0) > 10_000
    assert task.archive_expires_at is not None
    thumbnail = thumbnail_key(archived)
    await rig.storage.put_bytes(thumbnail, b"\xff\xd8 thumbnail")

    early = Sweeper(
        store=rig.store,
        storage=rig.storage,
        clock=lambda: task.archive_expires_at - 1,
        interval_s=60,
    )
    assert (await early.sweep_once())[1] == 0 and await rig.storage.exists(archived)
    late = Sweeper(
        store=rig.store,
        storage=rig.storage,
        clock=lambda: task.archive_expires_at + 1,
        interval_s=60,
    )
    assert (await late.sweep_once())[1] == 1
    assert not await rig.storage.exists(archived) and not await rig.storage.exists(thumbnail)
    swept = await rig.store.tasks.get("t", task_id)
    assert swept is not None and swept.artifact_key is None and swept.state is TaskState.COMPLETED
    assert list(rig.storage.staging_dir().iterdir()) == []


async def test_task_past_its_deadline_mid_render_fails_clearly(rig: Rig) -> None:
    task_id = await rig.add(deadline_s=1.0, resolution="1080p")  # type: ignore[arg-type]
    await rig.worker().run_until_idle()
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.state is TaskState.FAILED
    assert task.error is not None and "deadline" in task.error.lower()
    assert task.artifact_key is None


async def test_queued_task_past_deadline_is_failed_by_the_sweep(rig: Rig) -> None:
    task_id = await rig.add(deadline_s=0.01)
    sweeper = Sweeper(store=rig.store, storage=rig.storage, clock=rig.clock, interval_s=60)
    assert await sweeper.sweep_once() == ([], 0)
    rig.clock.now += 0.02
    failed, _ = await sweeper.sweep_once()
    assert failed == [task_id]
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.state is TaskState.FAILED and "deadline" in str(task.error)


async def test_worker_that_loses_its_lease_writes_nothing(rig: Rig) -> None:
    task_id = await rig.add()
    worker = rig.worker()
    claimed = await rig.store.queue.claim_next(worker.owner_id, now=rig.clock.now, lease_s=30)
    assert claimed is not None
    # Another worker takes the task over (as after a lapsed lease) before this one finishes.
    rig.clock.now += 31
    thief = await rig.store.queue.claim_next("thief", now=rig.clock.now, lease_s=600)
    assert thief is not None and thief.id == task_id
    await worker.process(claimed)
    task = await rig.store.tasks.get("t", task_id)
    assert task is not None and task.state is TaskState.PROCESSING and task.lease_owner == "thief"
    assert not (rig.storage.root / "videos" / task_id).exists()
