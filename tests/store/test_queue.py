"""The task row is the queue: lease claims, renewal, reclaim after a lapse, and CAS transitions
(SQLite always; PostgreSQL when VGEN_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio

import pytest

from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.store.store import Store
from vgen.store.tasks import NewTask

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


async def add_task(
    store: Store,
    *,
    created_at: float = T0,
    deadline_s: float = 600,
    tenant: str = "t1",
    engine: str = "local",
) -> str:
    task_id = new_task_id()
    await store.tasks.create(
        NewTask(
            id=task_id,
            tenant_id=tenant,
            engine=engine,
            request=VideoRequest(model="veo_3_1_fast", prompt="p"),
            created_at=created_at,
            deadline_at=created_at + deadline_s,
        )
    )
    return task_id


async def test_claim_takes_oldest_queued_task_once(store: Store) -> None:
    older = await add_task(store, created_at=T0)
    newer = await add_task(store, created_at=T0 + 1)
    first = await store.queue.claim_next("w1", now=T0 + 2, lease_s=30)
    second = await store.queue.claim_next("w2", now=T0 + 2, lease_s=30)
    third = await store.queue.claim_next("w3", now=T0 + 2, lease_s=30)
    assert first is not None and first.id == older and first.lease_owner == "w1"
    assert first.state is TaskState.PROCESSING and first.attempts == 1
    assert second is not None and second.id == newer
    assert third is None


async def test_lapsed_lease_is_reclaimed_and_old_owner_cannot_finish(store: Store) -> None:
    task_id = await add_task(store)
    claimed = await store.queue.claim_next("w1", now=T0, lease_s=30)
    assert claimed is not None
    assert await store.queue.claim_next("w2", now=T0 + 29, lease_s=30) is None
    reclaimed = await store.queue.claim_next("w2", now=T0 + 31, lease_s=30)
    assert reclaimed is not None and reclaimed.id == task_id
    assert reclaimed.lease_owner == "w2" and reclaimed.attempts == 2
    assert reclaimed.started_at == T0  # the first start is kept
    # The first worker woke up late: every write it tries is refused.
    assert not await store.queue.renew_lease(task_id, "w1", now=T0 + 32, lease_s=30)
    assert not await store.queue.report_progress(task_id, "w1", progress=50, now=T0 + 32)
    assert not await store.queue.complete(
        task_id, "w1", artifact_key="a", video_seconds=8, now=T0 + 32, archive_expires_at=T0 + 100
    )
    assert not await store.queue.fail(task_id, "w1", error="x", now=T0 + 32)
    assert await store.queue.complete(
        task_id, "w2", artifact_key="b", video_seconds=8, now=T0 + 33, archive_expires_at=T0 + 100
    )
    done = await store.tasks.get("t1", task_id)
    assert done is not None and done.state is TaskState.COMPLETED and done.artifact_key == "b"
    assert done.progress == 100 and done.lease_owner is None


async def test_renewed_lease_is_not_reclaimed(store: Store) -> None:
    task_id = await add_task(store)
    await store.queue.claim_next("w1", now=T0, lease_s=30)
    assert await store.queue.renew_lease(task_id, "w1", now=T0 + 25, lease_s=30)
    assert await store.queue.claim_next("w2", now=T0 + 40, lease_s=30) is None
    assert await store.queue.claim_next("w2", now=T0 + 56, lease_s=30) is not None


async def test_terminal_task_is_never_claimed_or_changed(store: Store) -> None:
    task_id = await add_task(store)
    await store.queue.claim_next("w1", now=T0, lease_s=30)
    assert await store.queue.fail(task_id, "w1", error="boom", now=T0 + 1)
    assert await store.queue.claim_next("w2", now=T0 + 1000, lease_s=30) is None
    assert not await store.queue.complete(
        task_id, "w1", artifact_key="a", video_seconds=8, now=T0 + 2, archive_expires_at=T0 + 100
    )
    task = await store.tasks.get("t1", task_id)
    assert task is not None and task.state is TaskState.FAILED and task.error == "boom"


async def test_parked_task_stays_processing_until_its_next_poll(store: Store) -> None:
    task_id = await add_task(store)
    await store.queue.claim_next("w1", now=T0, lease_s=30)
    assert await store.queue.record_upstream_id(task_id, "w1", upstream_id="up-1", now=T0)
    assert await store.queue.park(task_id, "w1", until=T0 + 10, now=T0 + 1)
    parked = await store.tasks.get("t1", task_id)
    assert parked is not None and parked.state is TaskState.PROCESSING
    assert parked.lease_owner is None and parked.upstream_id == "up-1"
    # Parked means let go: the old owner can no longer write.
    assert not await store.queue.report_progress(task_id, "w1", progress=5, now=T0 + 2)
    assert await store.queue.claim_next("w2", now=T0 + 5, lease_s=30) is None
    again = await store.queue.claim_next("w2", now=T0 + 10.5, lease_s=30)
    assert again is not None and again.id == task_id and again.attempts == 2
    assert again.upstream_id == "up-1"


async def test_overdue_tasks_fail_with_a_clear_error(store: Store) -> None:
    queued = await add_task(store, deadline_s=60)
    running = await add_task(store, deadline_s=60)
    fresh = await add_task(store, deadline_s=600)
    claimed = await store.queue.claim_next("w1", now=T0, lease_s=30)
    assert claimed is not None and claimed.id == queued
    assert sorted(await store.queue.fail_overdue(now=T0 + 61)) == sorted([queued, running])
    for task_id in (queued, running):
        task = await store.tasks.get("t1", task_id)
        assert task is not None and task.state is TaskState.FAILED
        assert task.error is not None and "deadline" in task.error
    still = await store.tasks.get("t1", fresh)
    assert still is not None and still.state is TaskState.QUEUED
    # A task past its deadline is never claimed, even before the sweep gets to it.
    late = await add_task(store, deadline_s=5)
    assert await store.queue.claim_next("w1", now=T0 + 6, lease_s=30) is not None  # `fresh`
    assert (await store.tasks.get("t1", late)).state is TaskState.QUEUED  # type: ignore[union-attr]


async def test_concurrent_claimers_never_share_a_task(store: Store, database_url: str) -> None:
    ids = {await add_task(store, created_at=T0 + i) for i in range(20)}
    others = [Store.open(database_url) for _ in range(3)]
    try:

        async def drain(claimer: Store, name: str) -> list[str]:
            won = []
            while task := await claimer.queue.claim_next(name, now=T0 + 100, lease_s=30):
                won.append(task.id)
                await asyncio.sleep(0)
            return won

        results = await asyncio.gather(*(drain(s, f"w{i}") for i, s in enumerate([store, *others])))
    finally:
        for other in others:
            await other.close()
    claimed = [task_id for won in results for task_id in won]
    assert sorted(claimed) == sorted(ids)


async def test_list_pages_by_tenant(store: Store) -> None:
    mine = [await add_task(store, created_at=T0 + i) for i in range(3)]
    await add_task(store, created_at=T0 + 10, tenant="t2")
    page, more = await store.tasks.list("t1", limit=2)
    assert [t.id for t in page] == mine[::-1][:2] and more
    page, more = await store.tasks.list("t1", limit=2, after=page[-1].id)
    assert [t.id for t in page] == mine[:1] and not more
    assert await store.tasks.get("t2", mine[0]) is None
