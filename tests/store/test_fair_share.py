"""Fair share between tenants (API.md §6), through the real queue on SQLite and PostgreSQL:
which task each claim starts when several tenants' tasks compete for one engine target, and
where `queue_position` puts each queued task (the same order)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from vgen.domain.fair_share import Priority
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.store.store import Store
from vgen.store.tables import api_keys
from vgen.store.tasks import NewTask

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
LEASE_S = 30


async def key(store: Store, tenant: str, *, weight: float = 1.0) -> str:
    key_id = f"key_{tenant}"
    await store.database.execute(
        sa.insert(api_keys).values(
            id=key_id,
            tenant_id=tenant,
            name=tenant,
            secret_hash=f"hash-{tenant}",
            is_admin=False,
            created_at=T0,
            weight=weight,
        )
    )
    return key_id


async def queue(
    store: Store,
    tenant: str,
    count: int,
    *,
    priority: Priority = Priority.NORMAL,
    engine: str = "local",
    at: float = T0,
) -> list[str]:
    made = []
    for _ in range(count):
        task_id = new_task_id()
        await store.tasks.create(
            NewTask(
                id=task_id,
                tenant_id=tenant,
                engine=engine,
                request=VideoRequest(model="veo_3_1_fast", prompt="p", priority=priority),
                created_at=at,
                deadline_at=at + 3600,
                api_key_id=f"key_{tenant}",
            )
        )
        made.append(task_id)
    return made


async def serve(store: Store, count: int, *, engines: list[str] | None = None) -> list[str]:
    """Start and finish `count` tasks one at a time (one render slot); their ids in order."""
    served = []
    for _ in range(count):
        task = await store.queue.claim_next("w", now=T0 + 1, lease_s=LEASE_S, engines=engines)
        assert task is not None
        assert await store.queue.complete(
            task.id,
            "w",
            artifact_key=f"{task.id}.mp4",
            video_seconds=1.0,
            now=T0 + 1,
            archive_expires_at=T0 + 3600,
            calls=0,
        )
        served.append(task.id)
    return served


async def test_a_late_tenant_waits_one_slot_not_the_whole_batch(store: Store) -> None:
    await key(store, "a")
    await key(store, "b")
    a_tasks = await queue(store, "a", 30)
    first = await serve(store, 1)  # A's batch is being worked through when B arrives
    b_tasks = await queue(store, "b", 3)

    order = first + await serve(store, 33 - 1)

    assert order[0] == a_tasks[0]
    sixth_of_a = order.index(a_tasks[5])
    assert all(order.index(b) < sixth_of_a for b in b_tasks), order
    assert [t for t in order if t in a_tasks] == a_tasks  # A's own tasks keep their order


async def test_weights_two_to_one_give_two_to_one_service(store: Store) -> None:
    await key(store, "heavy", weight=2)
    await key(store, "light", weight=1)
    heavy = set(await queue(store, "heavy", 40))
    light = set(await queue(store, "light", 40))

    order = await serve(store, 30)

    served_heavy = sum(t in heavy for t in order)
    served_light = sum(t in light for t in order)
    assert served_heavy + served_light == 30
    assert 19 <= served_heavy <= 21, (served_heavy, served_light)


async def test_priority_orders_a_tenants_own_tasks_without_jumping_others(store: Store) -> None:
    await key(store, "a")
    await key(store, "b")
    a_normal = await queue(store, "a", 10)
    b_tasks = await queue(store, "b", 3)
    (a_high,) = await queue(store, "a", 1, priority=Priority.HIGH)
    (a_low,) = await queue(store, "a", 1, priority=Priority.LOW)
    a_late_normal = await queue(store, "a", 1)

    positions = {
        t: await store.queue_positions.position(t)
        for t in [*a_normal, *b_tasks, a_high, a_low, *a_late_normal]
    }
    order = await serve(store, 16)

    # A's high task takes A's first slot; the normal ones follow in order; low comes last.
    a_order = [t for t in order if t not in b_tasks]
    assert a_order == [a_high, *a_normal, *a_late_normal, a_low]
    # B's share is what it would be without A's priorities: one of its tasks per slot of A's
    # (equal slots go by id), so its three are done within the first six.
    assert max(order.index(b) for b in b_tasks) <= 5, order
    # queue_position predicted exactly this order.
    assert sorted(positions, key=lambda t: positions[t] or 0) == order


async def test_queue_position_counts_down_as_tasks_ahead_start(store: Store) -> None:
    await key(store, "a")
    await key(store, "b")
    a_tasks = await queue(store, "a", 4)
    (b_task,) = await queue(store, "b", 1)
    # B's first slot equals A's first (both joined at the same share clock): ids break ties.
    assert await store.queue_positions.position(b_task) == (1 if b_task < a_tasks[0] else 2)

    seen = []
    while (position := await store.queue_positions.position(a_tasks[-1])) is not None:
        seen.append(position)
        await serve(store, 1)
    assert seen == [5, 4, 3, 2, 1]


async def test_targets_are_separate_lines(store: Store) -> None:
    await key(store, "a")
    await key(store, "b")
    await queue(store, "a", 5, engine="relay")
    (b_local,) = await queue(store, "b", 1, engine="local")
    assert await store.queue_positions.position(b_local) == 1

    order = await serve(store, 1, engines=["local"])
    assert order == [b_local]


async def test_started_work_that_is_due_goes_before_new_starts(store: Store) -> None:
    await key(store, "a")
    (started,) = await queue(store, "a", 1)
    claimed = await store.queue.claim_next("w", now=T0, lease_s=LEASE_S)
    assert claimed is not None and claimed.id == started
    # Parked until its next upstream poll, due at T0 + 5; meanwhile more tasks queue up.
    assert await store.queue.park(started, "w", until=T0 + 5, now=T0, calls=1)
    await queue(store, "a", 3, at=T0 + 1)

    due_poll = await store.queue.claim_next("w", now=T0 + 6, lease_s=LEASE_S)
    assert due_poll is not None and due_poll.id == started


async def test_concurrent_claimers_share_one_fair_order(store: Store) -> None:
    """Several workers claiming at once (PostgreSQL: separate connections, SKIP LOCKED) never
    start a task twice, and still serve both tenants evenly."""
    await key(store, "a")
    await key(store, "b")
    a_tasks = set(await queue(store, "a", 20))
    b_tasks = set(await queue(store, "b", 20))

    async def worker(name: str) -> list[str]:
        taken = []
        for _ in range(5):
            task = await store.queue.claim_next(name, now=T0 + 1, lease_s=LEASE_S)
            if task is not None:
                taken.append(task.id)
        return taken

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    started = [t for taken in results for t in taken]
    assert len(started) == len(set(started)) == 20
    assert abs(sum(t in a_tasks for t in started) - sum(t in b_tasks for t in started)) <= 2
