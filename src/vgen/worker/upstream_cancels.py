"""`UpstreamCanceller`: asks upstreams to stop the jobs of cancelled tasks (API.md §1.3,
"best effort upstream"). A few tries with back-off on transient errors, then it gives up:
vgen stopped polling the job the moment the task was cancelled, whatever the upstream says."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import anyio

from vgen.domain.errors import UpstreamUnavailable
from vgen.engines.base import Engine
from vgen.store.store import Store
from vgen.store.upstream_cancels import PendingCancel

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY_S = 5.0
ATTEMPT_TIMEOUT_S = 30.0


class UpstreamCanceller:
    def __init__(
        self,
        *,
        store: Store,
        engines: Mapping[str, Engine],
        clock: Callable[[], float],
        interval_s: float = 2.0,
    ) -> None:
        self._store = store
        self._engines = engines
        self._clock = clock
        self._interval_s = interval_s

    async def run(self) -> None:
        while True:
            try:
                await self.cancel_due()
            except Exception:  # one bad pass must not stop the next
                log.exception("upstream cancel pass failed")
            await anyio.sleep(self._interval_s)

    async def cancel_due(self) -> int:
        """One pass over the due cancels of this worker's engines; returns how many it tried."""
        now = self._clock()
        due = await self._store.upstream_cancels.due(now=now, engines=list(self._engines), limit=50)
        tried = 0
        for pending in due:
            retry_at = now + FIRST_RETRY_S * 2**pending.attempts
            if await self._store.upstream_cancels.claim(pending, until=retry_at):
                tried += 1
                await self._attempt(pending)
        return tried

    async def _attempt(self, pending: PendingCancel) -> None:
        engine = self._engines[pending.engine]
        extra = {"task_id": pending.task_id}
        try:
            with anyio.fail_after(ATTEMPT_TIMEOUT_S):
                confirmed = await engine.cancel_upstream(pending.upstream_id)
        except (UpstreamUnavailable, TimeoutError) as exc:
            if pending.attempts + 1 < MAX_ATTEMPTS:
                log.info("upstream cancel will be retried: %s", exc, extra=extra)
                return
            outcome = "gave_up"
        else:
            outcome = "confirmed" if confirmed else "refused"
        log.info("upstream asked to stop the job: %s", outcome, extra=extra)
        await self._store.upstream_cancels.finish(
            pending.task_id, outcome=outcome, now=self._clock()
        )
