"""The one place that maps what went wrong in an attempt onto the task's next move.

`decide` is pure: given the exception and the facts about the task, it returns the whole
decision (`Retry`, `Reroute`, `Fail`, `FailAsBug`); the worker only applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from vgen.domain.errors import EngineError, StorageUnavailable, UpstreamUnavailable

_RETRY_BASE_S = 2.0
_RETRY_CAP_S = 60.0
DEADLINE_MESSAGE = "Task deadline exceeded: the video was not ready in time."
BUG_MESSAGE = "Internal error while generating the video."


@dataclass(frozen=True)
class Retry:
    """Park the task for `after_s` and try again: an upstream job it has is polled again,
    never submitted again."""

    after_s: float


@dataclass(frozen=True)
class Reroute:
    """Hand the task to another engine target (the submit failed, so no upstream job exists)."""

    target: str


@dataclass(frozen=True)
class Fail:
    """End the task as failed with a message a user can act on."""

    message: str


@dataclass(frozen=True)
class FailAsBug:
    """End the task as failed because vgen itself broke: log the traceback, show a generic
    message."""

    message: str


Outcome = Retry | Reroute | Fail | FailAsBug


def decide(
    exc: BaseException,
    *,
    failures: int,
    now: float,
    deadline_at: float,
    has_upstream_job: bool,
    fallback: str | None,
    jitter: float = 1.0,
) -> Outcome:
    """Transient engine or archive trouble is retried after the upstream's Retry-After, else after a
    capped exponential back-off over the consecutive `failures`, spread by `jitter` (0..1, so
    many tasks hit by one outage do not retry in lockstep). If no upstream job exists yet (the
    submit itself failed) and a `fallback` target can take the task, it fails over at once
    instead. A retry that would land at or past `deadline_at` fails the task with the error's
    message. Engine errors fail with their message, and anything unexpected is a bug."""
    if isinstance(exc, UpstreamUnavailable | StorageUnavailable):
        # Only a failed submit may fail over; an archive fault is the same on every target.
        if isinstance(exc, UpstreamUnavailable) and not has_upstream_job and fallback is not None:
            return Reroute(target=fallback)
        after_s = _backoff_s(exc, failures=failures, jitter=jitter)
        if now + after_s < deadline_at:
            return Retry(after_s=after_s)
        return Fail(message=str(exc))
    if isinstance(exc, EngineError):
        return Fail(message=exc.message)
    if isinstance(exc, TimeoutError):
        return Fail(message=DEADLINE_MESSAGE)
    return FailAsBug(message=BUG_MESSAGE)


def _backoff_s(
    exc: UpstreamUnavailable | StorageUnavailable, *, failures: int, jitter: float
) -> float:
    if isinstance(exc, UpstreamUnavailable) and exc.retry_after_s is not None:
        return exc.retry_after_s
    ceiling = min(_RETRY_CAP_S, _RETRY_BASE_S * 2.0 ** max(0, failures - 1))
    return ceiling * (0.5 + 0.5 * jitter)
