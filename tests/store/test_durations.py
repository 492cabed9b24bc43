"""Observed job durations: newest first per target and model, pruned by age."""

from __future__ import annotations

import pytest

from vgen.store.durations import quantile
from vgen.store.store import Store

pytestmark = pytest.mark.anyio


async def test_recent_durations_are_per_target_and_newest_first(store: Store) -> None:
    for at, seconds in [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)]:
        await store.durations.record("relay", "veo3", seconds=seconds, now=at)
    await store.durations.record("relay", "veo3-fast", seconds=99.0, now=4.0)
    await store.durations.record("local", "veo3", seconds=5.0, now=5.0)

    assert await store.durations.recent("relay", "veo3") == [30.0, 20.0, 10.0]
    assert await store.durations.recent("relay", "veo3", limit=2) == [30.0, 20.0]
    assert await store.durations.recent("relay", "nothing") == []


async def test_prune_forgets_old_samples(store: Store) -> None:
    await store.durations.record("relay", "veo3", seconds=10.0, now=100.0)
    await store.durations.record("relay", "veo3", seconds=20.0, now=200.0)
    assert await store.durations.prune(older_than=150.0) == 1
    assert await store.durations.recent("relay", "veo3") == [20.0]


def test_quantile_interpolates_like_numpy() -> None:
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == pytest.approx(2.5)
    assert quantile([5.0], 0.9) == 5.0
    assert quantile([0.0, 10.0], 0.1) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        quantile([], 0.5)
