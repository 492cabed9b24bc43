"""`Worker`: claims tasks with a lease and drives each through its engine to the archive.

Invariants: the lease is renewed while a task runs, and the worker stops touching a task the
moment its lease is lost; a video counts as finished only once it decodes and is archived.
"""

from __future__ import annotations

import logging
import random
import secrets
import shutil
import socket
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import assert_never

import anyio
import anyio.to_thread

from vgen.config import Settings
from vgen.domain.catalog import ModelCatalog
from vgen.domain.errors import DISK_FAULT_ERRNOS, EngineError, StorageUnavailable
from vgen.domain.files import asset_file_id
from vgen.domain.prices import NO_PRICES, PriceTable
from vgen.domain.routing import Routing
from vgen.domain.tasks import Task
from vgen.engines.base import Engine, EngineJob
from vgen.engines.calls import AttemptCalls, counting_calls
from vgen.logs import task_context
from vgen.media.probe import probe_video
from vgen.metrics import STORAGE_FAULTS, TASK_UPSTREAM_CALLS, TASKS_FINISHED
from vgen.service.artifacts import remove_videos, video_prefix
from vgen.storage.base import ArchiveStorage
from vgen.storage.signing import UrlSigner
from vgen.store.store import Store
from vgen.worker.inputs import fetch_images
from vgen.worker.outcome import Fail, FailAsBug, Outcome, Reroute, Retry, decide
from vgen.worker.pacer import PollPacer

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class LeaseLost(Exception):
    """Another worker owns the task now (our lease lapsed); drop it without writing."""


class _Reporter:
    def __init__(
        self, store: Store, task: Task, owner: str, clock: Clock, calls: AttemptCalls
    ) -> None:
        self._store, self._task, self._owner, self._clock = store, task, owner, clock
        self.calls = calls  # upstream requests of this attempt, added to the row as it moves
        self.submitted = False  # an upstream accepted the job during this attempt

    async def report_progress(self, percent: int) -> None:
        ok = await self._store.queue.report_progress(
            self._task.id, self._owner, progress=percent, now=self._clock()
        )
        if not ok:
            raise LeaseLost(self._task.id)

    async def record_upstream_id(self, upstream_id: str) -> None:
        self.submitted = True
        ok = await self._store.queue.record_upstream_id(
            self._task.id, self._owner, upstream_id=upstream_id, now=self._clock()
        )
        if not ok:
            raise LeaseLost(self._task.id)


class Worker:
    def __init__(
        self,
        *,
        store: Store,
        engines: Mapping[str, Engine],
        storage: ArchiveStorage,
        settings: Settings,
        clock: Clock,
        owner_id: str | None = None,
        signer: UrlSigner | None = None,
        routing: Routing | None = None,
        catalog: ModelCatalog | None = None,
        prices: PriceTable = NO_PRICES,
    ) -> None:
        self._store = store
        self._engines = engines
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._signer = signer
        # Consecutive transient failures per task, for back-off (claims also count polls,
        # so they cannot measure trouble). In memory: a restart merely starts the count anew.
        self._failures: dict[str, int] = {}
        self._routing = routing or Routing()
        self._pacer = PollPacer(
            history=store.durations,
            enabled=settings.learned_poll_pace,
            min_poll_s=self._routing.min_poll_s,
        )
        self._catalog = catalog or ModelCatalog.with_builtins()
        self._prices = prices
        self.owner_id = owner_id or f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._wake = anyio.Event()
        self._running = 0
        self._slot_freed = anyio.Event()

    def wake(self) -> None:
        """Look for work now (called when this process enqueues a task)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and run tasks until cancelled, at most `worker_concurrency` at a time."""
        async with anyio.create_task_group() as group:
            while True:
                await self._fill_slots(group)
                with anyio.move_on_after(self._settings.worker_idle_poll_seconds):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def run_until_idle(self) -> None:
        """Drain mode (tests, `vgen worker --drain`): run until no task is claimable."""
        async with anyio.create_task_group() as group:
            while True:
                claimed = await self._fill_slots(group)
                if not claimed and self._running == 0:
                    return
                await self._slot_freed.wait()
                self._slot_freed = anyio.Event()

    async def _fill_slots(self, group: anyio.abc.TaskGroup) -> int:
        claimed = 0
        while self._running < self._settings.worker_concurrency:
            startable = await self._startable_engines()
            # Shielded: a shutdown that cancelled the claim while the database committed it
            # would leave the task leased to an exiting worker until the lease lapses. Claimed,
            # it reaches `_execute` (anyio starts a task before cancelling it), which hands
            # it straight back.
            with anyio.CancelScope(shield=True):
                task = await self._store.queue.claim_next(
                    self.owner_id,
                    now=self._clock(),
                    lease_s=self._settings.lease_seconds,
                    engines=list(self._engines),
                    startable=startable,
                )
            if task is None:
                break
            self._running += 1
            claimed += 1
            group.start_soon(self._execute, task)
        return claimed

    async def _startable_engines(self) -> list[str] | None:
        """Engines below their concurrency limit; queued tasks of the others wait (queued)."""
        if not self._routing.max_concurrent:
            return None
        busy = await self._store.queue.active_by_engine()
        return [e for e in self._engines if self._routing.has_room(e, busy.get(e, 0))]

    async def _execute(self, task: Task) -> None:
        log.info("task claimed", extra={"task_id": task.id, "attempt": task.attempts})
        try:
            await self.process(task)
        finally:
            self._running -= 1
            self._slot_freed.set()
            self._wake.set()

    async def process(self, task: Task) -> None:
        """Run one claimed task to its next state."""
        with task_context(task.id), counting_calls(task.engine) as calls:
            await self._process(
                task, _Reporter(self._store, task, self.owner_id, self._clock, calls)
            )

    async def _process(self, task: Task, reporter: _Reporter) -> None:
        try:
            await self._attempt_with_lease(task, reporter)
        except LeaseLost:
            self._pacer.forget(task.id)
            log.warning("lease lost; leaving task to its new owner", extra={"task_id": task.id})
        except anyio.get_cancelled_exc_class():
            # Shutting down: hand the task straight back (still `processing`, due now).
            with anyio.CancelScope(shield=True):
                now = self._clock()
                await self._store.queue.park(
                    task.id, self.owner_id, until=now, now=now, calls=reporter.calls.take()
                )
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is mapped by `decide`
            await self._settle_failure(task, exc, reporter)

    async def _attempt_with_lease(self, task: Task, reporter: _Reporter) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._keep_lease, task)
                await self._attempt(task, reporter)
                group.cancel_scope.cancel()
        except BaseExceptionGroup as grouped:
            # One of the two failed and the group cancelled the other: surface that one error.
            raise _first_leaf(grouped) from None

    async def _attempt(self, task: Task, reporter: _Reporter) -> None:
        # Everything an attempt writes locally (inputs, the video before it is archived) lives
        # in one staging directory of its own, removed when the attempt ends however it ends.
        staging = self._storage.staging_dir() / f"{task.id}-{task.attempts}"
        try:
            # On the loop, not in a thread: creating (and below, removing) an empty directory
            # is one quick local syscall, and most attempts are polls that write nothing, so
            # two thread hops would be a tenth of their cost.
            staging.mkdir(parents=True, exist_ok=True)
            await self._attempt_in(task, reporter, staging)
        except OSError as exc:
            if exc.errno not in DISK_FAULT_ERRNOS:  # (TimeoutError, the deadline, has none)
                raise
            # The local staging disk failed (full, read-only): transient, retried.
            STORAGE_FAULTS.labels("staging").inc()
            raise StorageUnavailable.from_os_error("writing the local staging copy", exc) from exc
        finally:
            with anyio.CancelScope(shield=True):
                await _remove_staging(staging)

    async def _attempt_in(self, task: Task, reporter: _Reporter, staging: Path) -> None:
        engine = self._engines[task.engine]
        # Inputs matter only until an upstream accepted the job: polls never fetch them.
        images = (
            await fetch_images(
                task, files=self._store.files, storage=self._storage, staging=staging
            )
            if task.upstream_id is None
            else {}
        )
        output = staging / "video.mp4"
        job = EngineJob(
            task.id,
            task.request,
            images,
            output,
            upstream_id=task.upstream_id,
            image_urls=self._image_urls(task),
            typical_min_s=self._typical_min_s(task.request.model),
        )
        began = self._clock()
        with anyio.fail_after(max(0.0, task.deadline_at - began)):
            later = await engine.advance(job, reporter)
        self._failures.pop(task.id, None)
        if later is not None:
            polled_at = began if task.upstream_id is not None else None
            wait_s = await self._pacer.wait_s(task, later, polled_at=polled_at, now=self._clock())
            await self._park(task, reporter, after_s=wait_s, progress=later.progress)
            return
        job_s = self._pacer.job_seconds(task, began=began, ended=self._clock())
        info = await anyio.to_thread.run_sync(probe_video, str(output))
        if info.frames == 0:
            raise EngineError("the engine finished without a playable video")
        await self._archive(task, reporter, output, video_seconds=info.duration_s, job_s=job_s)

    def _typical_min_s(self, model: str) -> float:
        spec = self._catalog.models.get(model)
        return spec.min_seconds if spec is not None else EngineJob.typical_min_s

    def _image_urls(self, task: Task) -> dict[str, str]:
        if self._signer is None:
            return {}
        expires_at = int(self._clock() + self._settings.signed_url_ttl_seconds)
        return {
            field: self._signer.mint_url(f"inputs/{asset_file_id(ref)}", expires_at=expires_at)
            for field, ref in task.request.image_refs().items()
        }

    async def _park(
        self, task: Task, reporter: _Reporter, *, after_s: float, progress: int | None
    ) -> None:
        now = self._clock()
        until = min(now + max(after_s, 0.0), task.deadline_at)
        calls = reporter.calls.take()
        parked = await self._store.queue.park(
            task.id, self.owner_id, until=until, now=now, calls=calls, progress=progress
        )
        if not parked:
            raise LeaseLost(task.id)

    async def _archive(
        self, task: Task, reporter: _Reporter, output: Path, *, video_seconds: float, job_s: float
    ) -> None:
        key = f"{video_prefix(task.id)}{self.owner_id}-{task.attempts}.mp4"
        await self._storage.put_file(key, output)
        now = self._clock()
        calls = reporter.calls.take()
        video_seconds = round(video_seconds, 3)
        done = await self._store.queue.complete(
            task.id,
            self.owner_id,
            artifact_key=key,
            video_seconds=video_seconds,
            now=now,
            archive_expires_at=now + self._settings.retention_seconds,
            calls=calls,
            # Priced by the target that made it (after any fail-over) and what it delivered.
            cost=self._prices.cost(
                task.model,
                task.engine,
                video_seconds=video_seconds,
                resolution=task.request.resolution,
            ),
        )
        if not done:
            await self._storage.delete(key)
            raise LeaseLost(task.id)
        _observe_end(task, "completed", calls)
        log.info("task completed", extra={"task_id": task.id})
        await self._pacer.record(task, seconds=job_s, now=now)
        await self._remove_stray_videos(task, keep=key)

    async def _remove_stray_videos(self, task: Task, *, keep: str | None) -> None:
        """One video per task in the archive (see `remove_videos`); best effort, since the
        sweeper's retention pass removes whatever is left under the task's prefix."""
        try:
            await remove_videos(self._storage, task.id, keep=keep)
        except StorageUnavailable as exc:
            log.warning("could not remove stray copies: %s", exc, extra={"task_id": task.id})

    async def _keep_lease(self, task: Task) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await anyio.sleep(interval)
            renewed = await self._store.queue.renew_lease(
                task.id, self.owner_id, now=self._clock(), lease_s=self._settings.lease_seconds
            )
            if not renewed:
                raise LeaseLost(task.id)

    async def _settle_failure(self, task: Task, exc: Exception, reporter: _Reporter) -> None:
        failures = self._failures[task.id] = self._failures.get(task.id, 0) + 1
        now = self._clock()
        fallback = self._routing.next_target(task.request.model, task.engine)
        decision = decide(
            exc,
            failures=failures,
            jitter=random.random(),
            now=now,
            deadline_at=task.deadline_at,
            has_upstream_job=task.upstream_id is not None or reporter.submitted,
            fallback=fallback if fallback in self._engines else None,
        )
        await self._apply(task, decision, exc, reporter, now=now)

    async def _apply(
        self, task: Task, decision: Outcome, exc: Exception, reporter: _Reporter, *, now: float
    ) -> None:
        """Make the move `decide` chose. A write that misses means the lease is gone already:
        the task's new owner (or its cancel) wins, and there is nothing left to do."""
        queue, calls, extra = self._store.queue, reporter.calls.take(), {"task_id": task.id}
        match decision:
            case Reroute(target=target):
                log.warning(
                    "submit to %s failed (%s); failing over to %s",
                    task.engine,
                    exc,
                    target,
                    extra=extra,
                )
                await queue.reroute(task.id, self.owner_id, engine=target, now=now, calls=calls)
            case Retry(after_s=after_s):
                log.warning("transient engine error, retrying: %s", exc, extra=extra)
                # Parked, not requeued: the task keeps showing `processing`, and an upstream
                # job it may already have is polled again, never submitted again.
                until = now + after_s
                await queue.park(task.id, self.owner_id, until=until, now=now, calls=calls)
            case Fail(message=message):
                log.info("task failed: %s", message, extra=extra)
                await self._fail(task, message, now=now, calls=calls)
            case FailAsBug(message=message):
                log.exception("task failed unexpectedly", extra=extra, exc_info=exc)
                await self._fail(task, message, now=now, calls=calls)
            case _:
                assert_never(decision)

    async def _fail(self, task: Task, message: str, *, now: float, calls: int) -> None:
        self._failures.pop(task.id, None)
        self._pacer.forget(task.id)
        if await self._store.queue.fail(
            task.id, self.owner_id, error=message, now=now, calls=calls
        ):
            _observe_end(task, "failed", calls)
            await self._remove_stray_videos(task, keep=None)


async def _remove_staging(staging: Path) -> None:
    """Remove an attempt's staging directory: at once if it stayed empty (a poll), else in a
    thread (deleting a video may take a while)."""
    try:
        staging.rmdir()
    except OSError:
        await anyio.to_thread.run_sync(partial(shutil.rmtree, staging, ignore_errors=True))


def _observe_end(task: Task, outcome: str, calls_now: int) -> None:
    TASKS_FINISHED.labels(task.engine, outcome).inc()
    TASK_UPSTREAM_CALLS.labels(task.engine).observe(task.upstream_calls + calls_now)


def _first_leaf(grouped: BaseExceptionGroup[BaseException]) -> BaseException:
    first = grouped.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
