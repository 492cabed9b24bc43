"""The webhook outbox: one event per task end (only by the lease owner), leased claims that
concurrent deliverers never share, reclaim after a lapsed lease, and compare-and-swap outcomes
(SQLite always; PostgreSQL when VGEN_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.domain.webhooks import DeliveryState
from vgen.store.outbox import event_insert
from vgen.store.store import Store
from vgen.store.tables import webhook_events
from vgen.store.tasks import NewTask

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


async def add_events(store: Store, count: int, *, at: float = T0) -> None:
    for n in range(count):
        await store.database.execute(
            *event_insert(task_id=f"task{n}", tenant_id="t", event_type="video.completed", now=at)
        )


async def test_concurrent_deliverers_never_claim_the_same_event(store: Store) -> None:
    await add_events(store, 12)
    claimed: list[str] = []
    for _ in range(4):
        batches = await asyncio.gather(
            *(store.outbox.claim_due(f"d{n}", now=T0, lease_s=60, limit=2) for n in range(3))
        )
        claimed += [event.id for batch in batches for event in batch]
    assert len(claimed) == len(set(claimed)) == 12
    assert await store.outbox.claim_due("late", now=T0 + 59, lease_s=60, limit=50) == []


async def test_lapsed_lease_is_reclaimed_and_the_old_owner_can_no_longer_write(
    store: Store,
) -> None:
    await add_events(store, 1)
    [first] = await store.outbox.claim_due("dead", now=T0, lease_s=60, limit=10)
    assert (first.attempts, first.lease_owner, first.next_attempt_at) == (1, "dead", T0 + 60)

    [again] = await store.outbox.claim_due("alive", now=T0 + 60, lease_s=60, limit=10)
    assert again.id == first.id and again.attempts == 2

    assert not await store.outbox.mark_delivered(first.id, "dead", url="http://x", now=T0 + 61)
    assert await store.outbox.reschedule(
        first.id, "alive", url="http://x", error="HTTP 500", next_attempt_at=T0 + 70
    )
    assert not await store.outbox.give_up(first.id, "alive", url="http://x", error="late")
    event = await store.outbox.get(first.id)
    assert event is not None and event.state is DeliveryState.PENDING
    assert (event.lease_owner, event.last_error, event.url) == (None, "HTTP 500", "http://x")
    assert await store.outbox.next_due_at() == T0 + 70


async def ended_task(store: Store, *, callback_url: str | None, key: str | None) -> str:
    """A task created, claimed by worker "w" and handed to the test to end."""
    task_id = new_task_id()
    request = VideoRequest(model="veo_3_1_fast", prompt="p", callback_url=callback_url)
    await store.tasks.create(
        NewTask(
            id=task_id,
            tenant_id="t1",
            engine="local",
            request=request,
            created_at=T0,
            deadline_at=T0 + 600,
            api_key_id=key,
        )
    )
    claimed = await store.queue.claim_next("w", now=T0, lease_s=30)
    assert claimed is not None and claimed.id == task_id
    return task_id


async def events_of(store: Store, task_id: str) -> list[dict[str, object]]:
    rows = await store.database.fetch_all(
        sa.select(webhook_events).where(webhook_events.c.task_id == task_id)
    )
    return [dict(row) for row in rows]


@pytest.mark.parametrize("outcome", ["completed", "failed"])
@pytest.mark.parametrize(
    ("callback_url", "key"), [("https://hooks.example/v", "key_1"), (None, None)]
)
async def test_a_task_end_writes_one_event_for_its_target_and_a_lost_lease_none(
    store: Store, outcome: str, callback_url: str | None, key: str | None
) -> None:
    task_id = await ended_task(store, callback_url=callback_url, key=key)

    async def end(owner: str, at: float) -> bool:
        if outcome == "completed":
            return await store.queue.complete(
                task_id, owner, artifact_key="a", video_seconds=8, now=at,
                archive_expires_at=at + 60, cost=0.5,
            )  # fmt: skip
        return await store.queue.fail(task_id, owner, error="boom", now=at)

    assert not await end("someone-else", T0 + 1)  # not the lease owner: nothing written
    assert await events_of(store, task_id) == []
    assert await end("w", T0 + 2)
    assert not await end("w", T0 + 3)  # already ended: nothing more
    [event] = await events_of(store, task_id)
    assert event["event_type"] == f"video.{outcome}"
    assert (event["tenant_id"], event["api_key_id"], event["callback_url"]) == (
        "t1", key, callback_url,
    )  # fmt: skip
    assert (event["state"], event["attempts"], event["created_at"]) == ("pending", 0, T0 + 2)
    assert event["next_attempt_at"] == T0 + 2 and str(event["id"]).startswith("msg_")
    [usage] = await store.usage.for_tenant("t1", first_day="2000-01-01", last_day="2100-01-01")
    if outcome == "completed":
        assert (usage.completed, usage.failed, usage.video_seconds, usage.cost) == (1, 0, 8, 0.5)
    else:
        assert (usage.completed, usage.failed, usage.video_seconds, usage.cost) == (0, 1, 0, 0)
