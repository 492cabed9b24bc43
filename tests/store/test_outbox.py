"""The webhook outbox: leased claims that concurrent deliverers never share, reclaim after a
lapsed lease, and compare-and-swap outcomes (SQLite always; PostgreSQL when
VGEN_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio

import pytest

from vgen.domain.webhooks import DeliveryState
from vgen.store.outbox import event_insert
from vgen.store.store import Store

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
