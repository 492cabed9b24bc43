"""The transition table walked against the real queue: for every state × transition, a task row
in that state, and the queue write that makes the move (SQLite always; PostgreSQL when
VGEN_TEST_DATABASE_URL is set). Allowed moves land in the table's target state; the others, and
lease-owner moves tried by anyone else, change nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.store.test_queue import T0, add_task
from vgen.domain import states
from vgen.domain.states import TRANSITIONS, TaskState, Transition
from vgen.domain.tasks import Task
from vgen.store.store import Store

pytestmark = pytest.mark.anyio

OWNER = "w1"
LEASE_S = 30
NOW = T0 + 2 * LEASE_S  # the owner's lease has lapsed, so a reclaim may take the task
DEADLINE_S = 600


async def row_in(store: Store, state: TaskState) -> Task:
    """A task in `state`; a running one is held by `OWNER` (lease lapsed at `NOW`)."""
    task_id = await add_task(store, engine=f"engine-{state.value}", deadline_s=DEADLINE_S)
    queue = store.queue
    if state is not TaskState.QUEUED and state is not TaskState.CANCELLED:
        claimed = await queue.claim_next(OWNER, now=T0, lease_s=LEASE_S)
        assert claimed is not None and claimed.id == task_id
    if state is TaskState.COMPLETED:
        assert await queue.complete(
            task_id, OWNER, artifact_key="a", video_seconds=8, now=T0, archive_expires_at=T0 + 9
        )
    elif state is TaskState.FAILED:
        assert await queue.fail(task_id, OWNER, error="boom", now=T0)
    elif state is TaskState.CANCELLED:
        assert await queue.cancel(task_id, "t1", now=T0)
    task = await store.tasks.get("t1", task_id)
    assert task is not None and task.state is state
    return task


Write = Callable[[Store, Task, str], Awaitable[bool]]


async def claim(store: Store, task: Task, who: str) -> bool:
    # Only queued tasks of this engine are candidates (no reclaims): the `claim` move alone.
    got = await store.queue.claim_next(
        who, now=NOW, lease_s=LEASE_S, engines=[], startable=[task.engine]
    )
    return got is not None and got.id == task.id


async def reclaim(store: Store, task: Task, who: str) -> bool:
    # Only lapsed leases of this engine are candidates (no queued starts): `reclaim` alone.
    got = await store.queue.claim_next(
        who, now=NOW, lease_s=LEASE_S, engines=[task.engine], startable=[]
    )
    return got is not None and got.id == task.id


async def complete(store: Store, task: Task, who: str) -> bool:
    return await store.queue.complete(
        task.id, who, artifact_key="b", video_seconds=8, now=NOW, archive_expires_at=NOW + 9
    )


async def expire(store: Store, task: Task, who: str) -> bool:
    return task.id in await store.queue.fail_overdue(now=T0 + DEADLINE_S)


WRITES: dict[Transition, Write] = {
    states.CLAIM: claim,
    states.RECLAIM: reclaim,
    states.RENEW: lambda s, t, who: s.queue.renew_lease(t.id, who, now=NOW, lease_s=LEASE_S),
    states.RECORD_PROGRESS: lambda s, t, who: s.queue.report_progress(
        t.id, who, progress=50, now=NOW
    ),
    states.RECORD_UPSTREAM_ID: lambda s, t, who: s.queue.record_upstream_id(
        t.id, who, upstream_id="up-1", now=NOW
    ),
    states.PARK: lambda s, t, who: s.queue.park(t.id, who, until=NOW + 10, now=NOW),
    states.REROUTE: lambda s, t, who: s.queue.reroute(t.id, who, engine="elsewhere", now=NOW),
    states.COMPLETE: complete,
    states.FAIL: lambda s, t, who: s.queue.fail(t.id, who, error="bad", now=NOW),
    states.CANCEL: lambda s, t, who: s.queue.cancel(t.id, "t1", now=NOW),
    states.EXPIRE: expire,
}


def test_every_transition_has_a_queue_write() -> None:
    assert set(WRITES) == set(TRANSITIONS)


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: t.name)
@pytest.mark.parametrize("state", list(TaskState), ids=str)
async def test_queue_write_follows_the_table(
    store: Store, state: TaskState, transition: Transition
) -> None:
    before = await row_in(store, state)
    write = WRITES[transition]
    if transition.by_owner:
        assert not await write(store, before, "intruder")
        assert await store.tasks.get("t1", before.id) == before, "a non-owner moved the task"
    moved = await write(store, before, OWNER)
    after = await store.tasks.get("t1", before.id)
    assert after is not None
    if transition.allows(state):
        assert moved, f"{transition.name} refused from {state}"
        assert after.state is transition.target
        assert after != before
    else:
        assert not moved, f"{transition.name} happened from {state}"
        assert after == before
