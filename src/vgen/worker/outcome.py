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


def decide(exc: BaseException, *, failures: int, jitter: float = 1.0) -> Retry | Fail:
    """Transient engine trouble is retried after the upstream's Retry-After, else after a
    capped exponential back-off over the consecutive `failures`, spread by `jitter` (0..1, so
    many tasks hit by one outage do not retry in lockstep); everything else ends the task with
    a message a user can act on."""
    if isinstance(exc, UpstreamUnavailable):
        if exc.retry_after_s is not None:
            return Retry(after_s=exc.retry_after_s)
        ceiling = min(_RETRY_CAP_S, _RETRY_BASE_S * 2 ** max(0, failures - 1))
        return Retry(after_s=ceiling * (0.5 + 0.5 * jitter))
    if isinstance(exc, EngineError):
        return Fail(error=exc.message)
    if isinstance(exc, TimeoutError):
        return Fail(error="Task deadline exceeded: the video was not ready in time.")
    return Fail(error="Internal error while generating the video.")
