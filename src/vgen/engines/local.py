"""The offline `local` engine: renders on the CPU in a process pool (ENGINES.md §4).

The pool keeps rendering off the event loop, so the API stays responsive. Progress flows back
over a multiprocessing queue that one thread drains into `_progress`, which the awaiting
coroutine reads.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from vgen.domain.errors import (
    DISK_FAULT_ERRNOS,
    EngineError,
    StorageUnavailable,
    UpstreamUnavailable,
)
from vgen.engines.base import EngineJob, JobReporter, PollLater
from vgen.engines.calls import timed_operation
from vgen.media.renderer import RenderJob, RenderStats, render_video

log = logging.getLogger(__name__)

_PROGRESS_POLL_S = 0.25
_PR_SET_PDEATHSIG = 1
_child_queue: Any = None


def _init_child(queue: Any) -> None:
    global _child_queue
    _child_queue = queue
    _die_with_parent()


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this render process when its parent dies (kill -9 of
    the server), so an orphaned render does not keep burning the CPU the restarted one needs."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        return


class _RenderCancelled(Exception):
    """The parent stopped waiting for this render (deadline, lost lease, shutdown)."""


def _render_in_child(key: str, job: RenderJob, cancel_marker: str) -> RenderStats:
    def on_progress(done: int, total: int) -> None:
        # The parent cannot interrupt one job of a pool; it drops a marker file instead, which
        # is checked here every few frames (the renderer then deletes its partial output).
        if os.path.exists(cancel_marker):
            raise _RenderCancelled(key)
        _child_queue.put((key, done, total))

    try:
        return render_video(job, on_progress=on_progress)
    except (EngineError, StorageUnavailable, _RenderCancelled):
        raise
    except OSError as exc:
        if exc.errno in DISK_FAULT_ERRNOS:  # the staging disk, not the render, failed
            raise StorageUnavailable.from_os_error("local render", exc) from None
        raise EngineError(f"local render failed: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything a render raises fails the task, with why
        raise EngineError(f"local render failed: {exc.__class__.__name__}: {exc}") from None


def build_render_job(job: EngineJob) -> RenderJob:
    width, height = job.request.size
    references = tuple(
        str(job.images[f"input_reference[{i}]"]) for i in range(len(job.request.references))
    )
    first = job.images.get("first_image")
    last = job.images.get("last_image")
    return RenderJob(
        output_path=str(job.output_path),
        width=width,
        height=height,
        prompt=job.request.prompt,
        duration_s=job.request.duration_s,
        seed=job.request.seed,
        first_frame=str(first) if first else None,
        last_frame=str(last) if last else None,
        references=references,
    )


class LocalEngine:
    name = "local"

    def __init__(self, *, processes: int = 2) -> None:
        self._processes = processes
        self._context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._queue: Any = None
        self._progress: dict[str, tuple[int, int]] = {}
        self._drainer: threading.Thread | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if self._queue is None:
                self._queue = self._context.Queue()
                self._drainer = threading.Thread(
                    target=self._drain, name="vgen-local-progress", daemon=True
                )
                self._drainer.start()
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=self._context,
                initializer=_init_child,
                initargs=(self._queue,),
            )
        return self._pool

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, done, total = item
            if key in self._progress:
                self._progress[key] = (done, total)

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Render the whole video now (the local engine never needs to poll)."""
        with timed_operation(self.name, "render"):
            await self._render(job, reporter)
        return None

    async def _render(self, job: EngineJob, reporter: JobReporter) -> None:
        key = f"{job.task_id}:{job.output_path.name}"
        cancel_marker = job.output_path.with_name(job.output_path.name + ".cancel")
        self._progress[key] = (0, 1)
        future: Future[RenderStats] | None = None
        wrapped: asyncio.Future[RenderStats] | None = None
        try:
            future = self._ensure_pool().submit(
                _render_in_child, key, build_render_job(job), str(cancel_marker)
            )
            wrapped = asyncio.wrap_future(future)
            last_percent = -1
            while not wrapped.done():
                await asyncio.wait({wrapped}, timeout=_PROGRESS_POLL_S)
                done, total = self._progress[key]
                percent = int(99 * done / max(total, 1))
                if percent != last_percent and not wrapped.done():
                    await reporter.report_progress(percent)
                    last_percent = percent
            wrapped.result()
            return None
        except BrokenProcessPool as exc:
            # A render process died (e.g. killed by the OS); start a fresh pool and retry later.
            self._pool = None
            raise UpstreamUnavailable("the local render process died", retry_after_s=1) from exc
        except BaseException:
            if future is not None and not future.done():
                cancel_marker.touch()
                future.add_done_callback(lambda _f: cancel_marker.unlink(missing_ok=True))
            if wrapped is not None:
                wrapped.cancel()  # nobody will read the render's outcome now
            raise
        finally:
            self._progress.pop(key, None)

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """Nothing upstream: a cancelled render stops at its next progress step."""
        return True

    async def aclose(self) -> None:
        if self._pool is not None:
            # Renders in flight would otherwise run on after shutdown; their tasks are handed
            # back to the queue by the worker, so stopping them loses nothing.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            self._pool = None
        if self._queue is not None:
            self._queue.put(None)
            if self._drainer is not None:
                self._drainer.join(timeout=5)
            self._queue.close()
            self._queue = None
