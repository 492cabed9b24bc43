"""Costs in the store: a completion writes the task's cost and adds it to the key's usage row in
the same transaction (a stale owner's completion adds nothing), failures cost nothing, and a
key's budget use sums this day's and month's costs and its unfinished tasks' reservations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.store.store import Store
from vgen.store.tables import tasks
from vgen.store.tasks import NewTask

pytestmark = pytest.mark.anyio

DAY = 86_400.0
MONTH_START = 1_801_440_000.0  # 2027-02-01 00:00 UTC
KEY = "key_costs"


async def add_task(store: Store, *, at: float, reserved: float) -> str:
    task_id = new_task_id()
    await store.tasks.create(
        NewTask(
            id=task_id,
            tenant_id="t1",
            engine="local",
            request=VideoRequest(model="veo_3_1_fast", prompt="p"),
            created_at=at,
            deadline_at=at + 600,
            api_key_id=KEY,
            reserved_cost=reserved,
        )
    )
    return task_id


async def run_to_end(store: Store, *, at: float, cost: float | None, fail: bool = False) -> str:
    task_id = await add_task(store, at=at, reserved=1.0)
    claimed = await store.queue.claim_next("w", now=at, lease_s=30)
    assert claimed is not None and claimed.id == task_id
    if fail:
        assert await store.queue.fail(task_id, "w", error="boom", now=at + 1)
    else:
        assert await store.queue.complete(
            task_id,
            "w",
            artifact_key="k",
            video_seconds=8,
            now=at + 1,
            archive_expires_at=at + DAY,
            cost=cost,
        )
        assert not await store.queue.complete(  # a second completion changes nothing
            task_id, "w", artifact_key="k", video_seconds=8, now=at + 2,
            archive_expires_at=at + DAY, cost=cost,
        )  # fmt: skip
    return task_id


async def cost_of(store: Store, task_id: str) -> float | None:
    row = await store.database.fetch_one(sa.select(tasks.c.cost).where(tasks.c.id == task_id))
    assert row is not None
    return row["cost"]  # type: ignore[no-any-return]


async def test_completion_records_cost_and_usage_and_failure_costs_nothing(store: Store) -> None:
    today = MONTH_START + 10 * DAY
    earlier = await run_to_end(store, at=MONTH_START + 2 * DAY, cost=2.0)
    done = await run_to_end(store, at=today, cost=1.5)
    unpriced = await run_to_end(store, at=today + 10, cost=None)
    failed = await run_to_end(store, at=today + 20, cost=None, fail=True)
    last_month = await run_to_end(store, at=MONTH_START - DAY, cost=4.0)
    assert [await cost_of(store, t) for t in (earlier, done, unpriced, failed, last_month)] == [
        2.0, 1.5, None, None, 4.0,
    ]  # fmt: skip
    queued = await add_task(store, at=today + 30, reserved=0.75)

    use = await store.usage.key_budget_use(KEY, now=today + 40)
    assert (use.today, use.this_month, use.reserved) == (1.5, 3.5, 0.75)
    rows = await store.usage.for_tenant("t1", first_day="2027-01-01", last_day="2027-02-28")
    assert [(r.day, r.cost, r.completed, r.failed) for r in rows] == [
        ("2027-01-31", 4.0, 1, 0),
        ("2027-02-03", 2.0, 1, 0),
        ("2027-02-11", 1.5, 2, 1),
    ]
    assert await store.queue.cancel(queued, "t1", now=today + 50)
    assert (await store.usage.key_budget_use(KEY, now=today + 60)).reserved == 0
