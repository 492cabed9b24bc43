"""`PollPacer`: one worker's learned polling pace (`pace.py`) fed by the durations history.

Invariants: a poll costs no extra query (each target and model's samples are cached for
`ttl_s`); a task that completes records exactly one sample, after its completion is written;
with the learned pace off, every wait is the engine's own, as before.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping

from vgen.domain.errors import StoreError
from vgen.domain.tasks import Task
from vgen.engines.base import PollLater
from vgen.store.durations import DurationHistory
from vgen.worker.pace import next_poll_delay, observed_duration

log = logging.getLogger(__name__)

DEFAULT_MIN_POLL_S = 5.0
# When the worker last polled each job it watches; a job cancelled while parked, or taken over by
# another worker, is never seen again here, so the oldest half goes once the map grows this big.
_REMEMBERED_POLLS = 100_000


class PollPacer:
    def __init__(
        self,
        *,
        history: DurationHistory,
        enabled: bool,
        min_poll_s: Mapping[str, float] | None = None,
        ttl_s: float = 30.0,
    ) -> None:
        self._history = history
        self._enabled = enabled
        self._min_poll_s = dict(min_poll_s or {})
        self._ttl_s = ttl_s
        self._samples: dict[tuple[str, str], tuple[float, list[float]]] = {}
        self._last_poll: dict[str, float] = {}

    async def wait_s(
        self, task: Task, later: PollLater, *, polled_at: float | None, now: float
    ) -> float:
        """How long to park `task` after this attempt. `polled_at`: when this attempt polled
        (None when it submitted). The upstream's own wait (Retry-After) wins when longer."""
        if polled_at is not None:
            self._remember_poll(task.id, polled_at)
        wait = later.after_s
        if self._enabled:
            submitted_at = task.started_at if task.started_at is not None else now
            wait = next_poll_delay(
                await self._recent(task.engine, task.model, now=now),
                elapsed_s=now - submitted_at,
                fixed_s=later.after_s,
                min_s=self._min_s(task.engine),
            )
        return max(wait, later.upstream_wait_s or 0.0)

    def job_seconds(self, task: Task, *, began: float, ended: float) -> float:
        """What the job that just finished took. A job done within one call (the local engine's
        render) took that call; a remote one ended between its last two polls (`began` is when
        the attempt, so its poll, began; the download that followed does not count)."""
        previous = self._last_poll.pop(task.id, None)
        if task.upstream_id is None or task.started_at is None:
            return max(0.0, ended - began)
        return observed_duration(
            submitted_at=task.started_at,
            polled_at=began,
            previous_poll_at=previous,
            min_s=self._min_s(task.engine),
        )

    async def record(self, task: Task, *, seconds: float, now: float) -> None:
        """One sample for a completed task; a database hiccup only costs the sample.

        A task run in one call (the local engine's render) records how long it held its slot,
        claim to completion (staging, render, probe, archive): what the tasks queued behind
        it wait for, so what queue ETAs need; nothing polls it, so the pace does not care."""
        if task.upstream_id is None and task.started_at is not None:
            seconds = max(seconds, now - task.started_at)
        try:
            await self._history.record(task.engine, task.model, seconds=seconds, now=now)
        except StoreError as exc:
            log.warning("could not record the job's duration: %s", exc, extra={"task_id": task.id})

    def forget(self, task_id: str) -> None:
        self._last_poll.pop(task_id, None)

    def _min_s(self, engine: str) -> float:
        return self._min_poll_s.get(engine, DEFAULT_MIN_POLL_S)

    async def _recent(self, engine: str, model: str, *, now: float) -> list[float]:
        cached = self._samples.get((engine, model))
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        try:
            samples = await self._history.recent(engine, model)
        except StoreError as exc:
            log.warning("durations unavailable, polling at the fixed pace: %s", exc)
            samples = cached[1] if cached is not None else []
        self._samples[(engine, model)] = (now, samples)
        return samples

    def _remember_poll(self, task_id: str, at: float) -> None:
        self._last_poll.pop(task_id, None)  # re-inserted last: the map stays in poll order
        self._last_poll[task_id] = at
        if len(self._last_poll) > _REMEMBERED_POLLS:
            for stale in list(itertools.islice(self._last_poll, len(self._last_poll) // 2)):
                del self._last_poll[stale]
