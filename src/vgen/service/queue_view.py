"""`QueueView`: the `queue_position` and `eta_seconds` of a queued task (API.md §6).

Typical durations (p50 of the recent ones of a model on a target) are kept for `ttl_s`, so a
client polling a queued task costs the position count and one small read, not a history scan.
"""

from __future__ import annotations

from collections.abc import Callable

from vgen.domain.queue_estimate import QueueEstimate, eta_seconds
from vgen.domain.routing import Routing
from vgen.store.durations import quantile
from vgen.store.store import Store

TYPICAL_TTL_S = 30.0


class QueueView:
    def __init__(
        self,
        store: Store,
        routing: Routing,
        clock: Callable[[], float],
        *,
        ttl_s: float = TYPICAL_TTL_S,
    ) -> None:
        self._store = store
        self._routing = routing
        self._clock = clock
        self._ttl_s = ttl_s
        self._typical: dict[tuple[str, str], tuple[float, float]] = {}

    async def estimate(self, task_id: str, *, engine: str, model: str) -> QueueEstimate | None:
        """None when the task is not queued (any more)."""
        position = await self._store.queue_positions.position(task_id)
        if position is None:
            return None
        typical = await self.typical_seconds(engine, model)
        capacity = self._routing.max_concurrent.get(engine)
        running: list[float] = []
        if typical is not None and capacity is not None:
            running = await self._store.queue_positions.running_elapsed(
                engine, now=self._clock(), limit=capacity
            )
        eta = eta_seconds(position, capacity=capacity, running_elapsed=running, typical_s=typical)
        return QueueEstimate(position, eta)

    async def typical_seconds(self, engine: str, model: str) -> float | None:
        """The median recent duration of `model` on `engine`; None without history."""
        now = self._clock()
        cached = self._typical.get((engine, model))
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        samples = await self._store.durations.recent(engine, model)
        if not samples:
            return None  # not remembered: the first sample counts at once
        typical = quantile(samples, 0.5)
        self._typical[(engine, model)] = (now, typical)
        return typical
