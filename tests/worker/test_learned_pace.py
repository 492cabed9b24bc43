"""The learned polling pace, black box: a worker with a relay target against the fake reseller,
whose jobs finish a set time after their submit on the test's hand clock. With a history of
such durations, a task costs fewer upstream calls than with none, and finishes no later than
one poll interval after the fixed pace would have finished it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes.reseller import ResellerFake
from tests.support import HandClock, serving
from vgen.config import Settings, load_routing
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.domain.routing import Routing
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task
from vgen.engines.base import PollLater
from vgen.engines.registry import build_routing, engine_http_client
from vgen.engines.relay import RelayEngine
from vgen.storage.local_disk import LocalDiskStorage
from vgen.store.store import Store
from vgen.store.tasks import NewTask
from vgen.worker.pacer import PollPacer
from vgen.worker.runner import Worker
from vgen.worker.sweeper import DURATIONS_KEPT_S, Sweeper

pytestmark = pytest.mark.anyio

JOB_S = 100.0
INTERVAL_S = 30.0
MODEL = "veo_3_1_fast"  # first poll at its typical minimum, 30 s


@dataclass
class Rig:
    store: Store
    clock: HandClock
    http: httpx.AsyncClient
    storage: LocalDiskStorage
    settings: Settings
    reseller: ResellerFake

    def worker(self, *, learned: bool = True) -> Worker:
        engine = RelayEngine(
            base_url=self.reseller.base_url,
            api_key="k",
            client=self.http,
            poll_interval_s=INTERVAL_S,
        )
        return Worker(
            store=self.store,
            engines={"relay": engine},
            storage=self.storage,
            settings=self.settings.model_copy(update={"learned_poll_pace": learned}),
            clock=self.clock,
            routing=Routing(routes={"*": ("relay",)}, min_poll_s={"relay": 4.0}),
        )

    async def seed_history(self, durations: list[float]) -> None:
        for n, seconds in enumerate(durations):
            await self.store.durations.record(
                "relay", MODEL, seconds=seconds, now=self.clock.now - 3600 + n
            )

    async def run_one(self, worker: Worker) -> Task:
        """Create a task and drive it to its end: run whatever is due, else move the clock to
        the moment its parked task is due (nothing sleeps)."""
        task_id = new_task_id()
        await self.store.tasks.create(
            NewTask(
                id=task_id,
                tenant_id="t",
                engine="relay",
                request=VideoRequest(model=MODEL, prompt="pace"),
                created_at=self.clock.now,
                deadline_at=self.clock.now + 3600,
            )
        )
        for _ in range(50):
            task = await self.store.queue.claim_next(
                worker.owner_id, now=self.clock.now, lease_s=30
            )
            if task is not None:
                await worker.process(task)
            row = await self.store.tasks.get("t", task_id)
            assert row is not None
            if row.is_terminal:
                return row
            if task is None:
                assert row.lease_expires_at is not None
                self.clock.now = max(self.clock.now, row.lease_expires_at)
        raise AssertionError("the task did not finish in 50 steps")

    def polls(self, task: Task) -> int:
        assert task.upstream_id is not None
        return self.reseller.jobs[task.upstream_id].polls


@pytest.fixture
def reseller(upstream_mp4: bytes, clock: HandClock) -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=upstream_mp4, clock=clock, job_seconds=JOB_S)) as fake:
        yield fake


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
async def rig(
    tmp_path: Path, database_url: str, reseller: ResellerFake, clock: HandClock
) -> AsyncIterator[Rig]:
    store = Store.open(database_url)
    http = engine_http_client()
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Rig(store, clock, http, LocalDiskStorage(tmp_path / "archive"), settings, reseller)
    await http.aclose()
    await store.close()


def lag(task: Task) -> float:
    assert task.started_at is not None and task.completed_at is not None
    return task.completed_at - (task.started_at + JOB_S)


async def test_history_of_the_jobs_durations_cuts_the_calls_per_task(rig: Rig) -> None:
    fixed = await rig.run_one(rig.worker())  # no history yet: the fixed pace
    assert fixed.state is TaskState.COMPLETED, fixed
    assert rig.polls(fixed) == 4  # 30, 60, 90, 120 s
    assert fixed.upstream_calls == 6  # submit + 4 polls + download

    await rig.seed_history([JOB_S - 6 + n * 0.5 for n in range(25)])  # 94 .. 106 s
    learned = await rig.run_one(rig.worker())
    assert learned.state is TaskState.COMPLETED, learned
    assert rig.polls(learned) == 1
    assert learned.upstream_calls == 3  # submit + 1 poll + download
    assert lag(learned) <= lag(fixed) + INTERVAL_S


async def test_each_completed_task_records_one_duration_sample(rig: Rig) -> None:
    worker = rig.worker()
    for _ in range(3):
        await rig.run_one(worker)
    # Below five samples the fixed pace holds: each job was seen running at 90 s and done at
    # 120 s, and its sample is the middle of that span.
    assert await rig.store.durations.recent("relay", MODEL) == pytest.approx([105.0] * 3)
    assert await rig.store.durations.recent("relay", "veo_3_1_pro") == []


async def test_a_task_slower_than_its_history_falls_back_to_the_fixed_pace(rig: Rig) -> None:
    await rig.seed_history([40.0 + n * 0.5 for n in range(20)])  # history says ~45 s
    task = await rig.run_one(rig.worker())
    assert task.state is TaskState.COMPLETED, task
    assert rig.polls(task) <= 4  # never more polls than the fixed pace (30, 60, 90, 120 s)
    assert lag(task) <= INTERVAL_S


async def test_turned_off_the_history_is_ignored(rig: Rig) -> None:
    await rig.seed_history([JOB_S] * 20)
    task = await rig.run_one(rig.worker(learned=False))
    assert rig.polls(task) == 4
    assert len(await rig.store.durations.recent("relay", MODEL)) == 21  # still recorded


async def test_the_upstreams_wait_wins_over_a_shorter_learned_delay(rig: Rig) -> None:
    await rig.seed_history([JOB_S] * 20)
    pacer = PollPacer(history=rig.store.durations, enabled=True)
    task = await rig.run_one(rig.worker())
    now = task.started_at or rig.clock.now
    learned = await pacer.wait_s(task, PollLater(INTERVAL_S), polled_at=None, now=now)
    assert learned == pytest.approx(JOB_S)
    asked = await pacer.wait_s(
        task, PollLater(INTERVAL_S, upstream_wait_s=300), polled_at=None, now=now
    )
    assert asked == 300


async def test_the_sweep_forgets_durations_older_than_the_kept_span(rig: Rig) -> None:
    await rig.store.durations.record(
        "relay", MODEL, seconds=50, now=rig.clock.now - DURATIONS_KEPT_S - 1
    )
    await rig.store.durations.record("relay", MODEL, seconds=60, now=rig.clock.now - 60)
    sweeper = Sweeper(store=rig.store, storage=rig.storage, clock=rig.clock, interval_s=60)
    await sweeper.sweep_once()
    assert await rig.store.durations.recent("relay", MODEL) == [60.0]


def test_a_targets_minimum_poll_interval_comes_from_the_routing_file(tmp_path: Path) -> None:
    config = tmp_path / "vgen.toml"
    config.write_text(
        """
[targets.reseller]
type = "relay"
base_url = "http://127.0.0.1:9"
min_poll_interval_seconds = 12

[targets.other]
type = "relay"
base_url = "http://127.0.0.1:9"
"""
    )
    settings = Settings(data_dir=tmp_path, config=config)
    routing = build_routing(load_routing(settings), settings)
    assert routing.min_poll_s == {"reseller": 12.0}
