"""`Sweeper`: the periodic chores — end tasks past their deadline, delete expired archives,
forget job durations too old to say how an upstream runs today."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from vgen.service.artifacts import remove_videos
from vgen.storage.base import ArchiveStorage
from vgen.store.store import Store

log = logging.getLogger(__name__)

DURATIONS_KEPT_S = 30 * 24 * 3600.0


class Sweeper:
    def __init__(
        self,
        *,
        store: Store,
        storage: ArchiveStorage,
        clock: Callable[[], float],
        interval_s: float,
    ) -> None:
        self._store = store
        self._storage = storage
        self._clock = clock
        self._interval_s = interval_s

    async def sweep_once(self) -> tuple[list[str], int]:
        """Returns the ids failed for their deadline and how many archived videos were deleted."""
        now = self._clock()
        overdue = await self._store.queue.fail_overdue(now=now)
        for task_id in overdue:
            log.warning("task failed: deadline exceeded", extra={"task_id": task_id})
            await remove_videos(self._storage, task_id)  # an attempt's stray upload, if any
        deleted = 0
        for task_id, key in await self._store.retention.expired_artifacts(now=now):
            # The video, its cached thumbnail, and any stray copy of a dead attempt.
            await remove_videos(self._storage, task_id)
            await self._store.retention.forget_artifact(task_id, key)
            deleted += 1
        await self._store.durations.prune(older_than=now - DURATIONS_KEPT_S)
        return overdue, deleted

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # a failed sweep must not stop the next one
                log.exception("sweep failed")
            await anyio.sleep(self._interval_s)
