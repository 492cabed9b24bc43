"""`outcome.decide`: the one map from what went wrong to retry, reroute, fail or fail-as-bug."""

from __future__ import annotations

import pytest

from vgen.domain.errors import ContentFiltered, EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.worker.outcome import Fail, FailAsBug, Outcome, Reroute, Retry, decide

NOW = 1_800_000_000.0


def decide_at(
    exc: BaseException,
    *,
    failures: int = 1,
    jitter: float = 1.0,
    deadline_in_s: float = 3600,
    has_upstream_job: bool = True,
    fallback: str | None = None,
) -> Outcome:
    return decide(
        exc,
        failures=failures,
        jitter=jitter,
        now=NOW,
        deadline_at=NOW + deadline_in_s,
        has_upstream_job=has_upstream_job,
        fallback=fallback,
    )


def test_upstream_retry_after_wins() -> None:
    assert decide_at(UpstreamUnavailable("busy", retry_after_s=7), failures=5) == Retry(7)


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 2), (2, 4), (3, 8), (6, 60), (40, 60)])
def test_backoff_grows_with_consecutive_failures_up_to_a_cap(failures: int, ceiling: float) -> None:
    low = decide_at(UpstreamUnavailable("x"), failures=failures, jitter=0.0)
    high = decide_at(UpstreamUnavailable("x"), failures=failures, jitter=1.0)
    assert low == Retry(ceiling / 2) and high == Retry(ceiling)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UpstreamRejected("bad prompt"), "bad prompt"),
        (ContentFiltered("blocked: people"), "blocked: people"),
        (EngineError("no video"), "no video"),
        (TimeoutError(), "Task deadline exceeded: the video was not ready in time."),
    ],
)
def test_everything_else_fails_with_a_message(error: BaseException, message: str) -> None:
    assert decide_at(error, failures=1) == Fail(message)


def test_an_unexpected_exception_fails_as_a_bug_with_a_generic_message() -> None:
    assert decide_at(RuntimeError("bug: secret detail")) == FailAsBug(
        "Internal error while generating the video."
    )


def test_failed_submit_fails_over_when_a_fallback_exists() -> None:
    busy = UpstreamUnavailable("busy", retry_after_s=7)
    assert decide_at(busy, has_upstream_job=False, fallback="backup") == Reroute("backup")
    # Even a retry that would miss the deadline: the fallback may still make it in time.
    assert decide_at(busy, has_upstream_job=False, fallback="backup", deadline_in_s=1) == (
        Reroute("backup")
    )


def test_accepted_job_is_retried_never_rerouted() -> None:
    busy = UpstreamUnavailable("busy", retry_after_s=7)
    assert decide_at(busy, has_upstream_job=True, fallback="backup") == Retry(7)


def test_failed_submit_without_a_fallback_is_retried() -> None:
    busy = UpstreamUnavailable("busy", retry_after_s=7)
    assert decide_at(busy, has_upstream_job=False, fallback=None) == Retry(7)


@pytest.mark.parametrize("fallback", [None, "backup"])
def test_permanent_errors_never_fail_over(fallback: str | None) -> None:
    rejected = UpstreamRejected("bad prompt")
    assert decide_at(rejected, has_upstream_job=False, fallback=fallback) == Fail("bad prompt")


@pytest.mark.parametrize("deadline_in_s", [7, 5])
def test_retry_landing_at_or_past_the_deadline_fails_with_the_error(
    deadline_in_s: float,
) -> None:
    busy = UpstreamUnavailable("upstream busy", retry_after_s=7)
    assert decide_at(busy, deadline_in_s=deadline_in_s) == Fail("upstream busy")
    assert decide_at(busy, deadline_in_s=7.5) == Retry(7)
