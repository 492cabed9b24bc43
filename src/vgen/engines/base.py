"""The engine protocol: what the worker needs from anything that makes videos."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio

from vgen.domain.requests import VideoRequest
from vgen.engines.calls import timed_operation

DEFAULT_FIRST_POLL_S = 30.0


@dataclass(frozen=True)
class EngineJob:
    """One attempt at one task.

    `images` maps each image field of the request (`first_image`, `last_image`,
    `input_reference[i]`) to a local file. `upstream_id` is set when an earlier attempt already
    had the job accepted upstream: the engine must resume it, never submit again.
    """

    task_id: str
    request: VideoRequest
    images: Mapping[str, Path]
    output_path: Path
    upstream_id: str | None = None
    image_urls: Mapping[str, str] = field(default_factory=dict)
    """The same images as signed URLs served by vgen, for upstreams that fetch by URL."""
    typical_min_s: float = DEFAULT_FIRST_POLL_S
    """How long the model typically needs at the least (catalog): no poll is worth it sooner."""


@dataclass(frozen=True)
class PollLater:
    """The job runs upstream: call `advance` again in `after_s` (the engine's own pace; the
    worker may pace it by the durations history instead). `progress` (0-99), when the upstream
    told it, is stored in the same write that parks the task. `upstream_wait_s` is a wait the
    upstream asked for (Retry-After, poll-after): no pace polls sooner."""

    after_s: float
    progress: int | None = None
    upstream_wait_s: float | None = None


def first_poll_after(configured_s: float | None, job: EngineJob) -> float:
    """When to poll a job just submitted: the target's setting, else the model's typical
    minimum time (asking earlier only spends upstream calls and rate limit)."""
    return configured_s if configured_s is not None else job.typical_min_s


async def submit_once(
    engine: str,
    submit: Callable[[], Awaitable[str]],
    job: EngineJob,
    reporter: JobReporter,
    *,
    first_poll_s: float | None,
) -> PollLater:
    """A remote engine's first step: submit, persist the upstream id before anything else
    (ENGINES.md: never submit twice), and say when the first poll is worth making."""
    # A shutdown (SIGTERM) or a lost lease lets a submit in flight finish and be recorded (the
    # HTTP client's timeout bounds it): cut short, the upstream may have made the job without
    # vgen knowing its id, and an upstream that ignores Idempotency-Key (Google's) would then be
    # asked, and paid, twice. Once it is recorded, the cancellation takes effect.
    with anyio.CancelScope(shield=True):
        with timed_operation(engine, "submit"):
            upstream_id = await submit()
        await reporter.record_upstream_id(upstream_id)
    return PollLater(first_poll_after(first_poll_s, job))


class JobReporter(Protocol):
    """How an engine tells the worker what happened; both calls persist before returning."""

    async def report_progress(self, percent: int) -> None:
        """Record progress (0-99; 100 is set on completion)."""
        ...

    async def record_upstream_id(self, upstream_id: str) -> None:
        """Persist the upstream job id the moment it is known (ENGINES.md, never resubmit)."""
        ...


class Engine(Protocol):
    """Moves a job towards an MP4 at `job.output_path`, one `advance` at a time.

    A local engine renders in one call. A remote one submits (recording the upstream id before
    it returns), then polls once per call, returning `PollLater` until the upstream is done,
    and finally downloads. Between calls the worker holds nothing: the task row is parked until
    the next poll is due, so a worker can watch any number of remote jobs.

    Raises `UpstreamUnavailable` for transient trouble (the task is retried later) and
    `UpstreamRejected` / `ContentFiltered` / `EngineError` when the task must fail.
    """

    name: str

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Do the next step; None means the video is at `job.output_path`."""
        ...

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """Best effort: ask the upstream to stop the job (the user cancelled the task).
        True if it confirmed; raises UpstreamUnavailable when asking again may help."""
        ...

    async def aclose(self) -> None:
        """Release pools and connections."""
        ...
