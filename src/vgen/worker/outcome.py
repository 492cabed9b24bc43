"""The one place that maps what happened to an attempt onto the task's next state."""

from __future__ import annotations

from dataclasses import dataclass

from vgen.domain.errors import EngineError, UpstreamUnavailable

_RETRY_BASE_S = 2.0
_RETRY_CAP_S = 60.0


@dataclass(frozen=True)
class Retry:
    after_s: float


@dataclass(frozen=True)
class Fail:
    error: str


def decide(exc: BaseException, *, attempts: int) -> Retry | Fail:
    """Transient engine trouble is retried with capped exponential back-off (or the upstream's
    Retry-After); everything else ends the task with a message a user can act on."""
    if isinstance(exc, UpstreamUnavailable):
        backoff = min(_RETRY_CAP_S, _RETRY_BASE_S * 2 ** max(0, attempts - 1))
        return Retry(after_s=exc.retry_after_s if exc.retry_after_s is not None else backoff)
    if isinstance(exc, EngineError):
        return Fail(error=exc.message)
    if isinstance(exc, TimeoutError):
        return Fail(error="Task deadline exceeded: the video was not ready in time.")
    return Fail(error="Internal error while generating the video.")
