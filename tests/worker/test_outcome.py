"""`outcome.decide`: the one map from what went wrong to retry-or-fail."""

from __future__ import annotations

import pytest

from vgen.domain.errors import ContentFiltered, EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.worker.outcome import Fail, Retry, decide


def test_upstream_retry_after_wins() -> None:
    assert decide(UpstreamUnavailable("busy", retry_after_s=7), failures=5) == Retry(7)


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 2), (2, 4), (3, 8), (6, 60), (40, 60)])
def test_backoff_grows_with_consecutive_failures_up_to_a_cap(failures: int, ceiling: float) -> None:
    low = decide(UpstreamUnavailable("x"), failures=failures, jitter=0.0)
    high = decide(UpstreamUnavailable("x"), failures=failures, jitter=1.0)
    assert low == Retry(ceiling / 2) and high == Retry(ceiling)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UpstreamRejected("bad prompt"), "bad prompt"),
        (ContentFiltered("blocked: people"), "blocked: people"),
        (EngineError("no video"), "no video"),
        (TimeoutError(), "Task deadline exceeded: the video was not ready in time."),
        (RuntimeError("bug"), "Internal error while generating the video."),
    ],
)
def test_everything_else_fails_with_a_message(error: BaseException, message: str) -> None:
    assert decide(error, failures=1) == Fail(message)
