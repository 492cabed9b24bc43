"""The learned polling pace as pure functions: bounds, where the first poll lands, the fallback
to the fixed pace, and the sample a poll that saw the job done records."""

from __future__ import annotations

import random

import pytest

from vgen.store.durations import quantile
from vgen.worker.pace import HIGH_Q, LOW_Q, MIN_SAMPLES, next_poll_delay, observed_duration

FIXED_S, MIN_S = 30.0, 5.0


def steady(n: int = 50, *, mean: float = 180.0, spread: float = 0.1, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [mean * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def poll_times(samples: list[float], duration: float) -> list[float]:
    """When a job of `duration` is polled under the learned pace, up to the poll that sees it
    done (the worker parks for the delay after each poll)."""
    at, polls = 0.0, []
    while True:
        at += next_poll_delay(samples, elapsed_s=at, fixed_s=FIXED_S, min_s=MIN_S)
        polls.append(at)
        if at >= duration:
            return polls


def test_without_enough_history_the_fixed_pace_holds() -> None:
    assert next_poll_delay([], elapsed_s=0, fixed_s=60, min_s=MIN_S) == 60
    few = [180.0] * (MIN_SAMPLES - 1)
    assert next_poll_delay(few, elapsed_s=0, fixed_s=60, min_s=MIN_S) == 60


@pytest.mark.parametrize("seed", range(5))
def test_first_poll_lands_between_the_low_quantile_and_one_interval_after_it(seed: int) -> None:
    samples = steady(seed=seed, spread=0.5)
    first = next_poll_delay(samples, elapsed_s=0, fixed_s=FIXED_S, min_s=MIN_S)
    low = quantile(samples, LOW_Q)
    assert low <= first <= low + FIXED_S
    assert first <= quantile(samples, HIGH_Q)


def test_a_steady_job_is_settled_by_about_one_poll() -> None:
    samples = steady()
    durations = steady(1000, seed=7)
    polls = [len(poll_times(samples, d)) for d in durations]
    assert sum(polls) / len(polls) <= 1.3  # the fixed pace: 5 polls (60, 90, ... 180 s)


@pytest.mark.parametrize("elapsed", [0.0, 50.0, 150.0, 170.0, 190.0, 197.0, 199.0])
@pytest.mark.parametrize("min_s", [0.5, 5.0, 12.0])
def test_no_delay_is_shorter_than_the_minimum_interval(elapsed: float, min_s: float) -> None:
    delay = next_poll_delay(steady(), elapsed_s=elapsed, fixed_s=FIXED_S, min_s=min_s)
    assert delay >= min_s


def test_the_minimum_interval_never_exceeds_the_fixed_pace() -> None:
    assert next_poll_delay(steady(), elapsed_s=300, fixed_s=10, min_s=60) == 10
    assert next_poll_delay(steady(), elapsed_s=190, fixed_s=10, min_s=60) == 10


@pytest.mark.parametrize("past", [0.1, 5.0, 100.0])
def test_past_the_observed_maximum_the_fixed_pace_holds(past: float) -> None:
    samples = steady()
    delay = next_poll_delay(samples, elapsed_s=max(samples) + past, fixed_s=FIXED_S, min_s=MIN_S)
    assert delay == FIXED_S


@pytest.mark.parametrize("elapsed", [float(e) for e in range(135, 600, 7)])
def test_inside_the_distribution_no_poll_comes_later_than_the_fixed_pace(elapsed: float) -> None:
    wide = steady(spread=0.6, mean=300)
    assert elapsed >= quantile(wide, LOW_Q)
    assert next_poll_delay(wide, elapsed_s=elapsed, fixed_s=FIXED_S, min_s=MIN_S) <= FIXED_S


@pytest.mark.parametrize("seed", range(5))
def test_a_job_ending_as_history_says_waits_at_most_one_interval_more(seed: int) -> None:
    samples = steady(seed=seed, spread=0.3)
    low = quantile(samples, LOW_Q)
    for duration in steady(200, seed=100 + seed, spread=0.3):
        if duration < low:
            continue
        lag = poll_times(samples, duration)[-1] - duration
        assert lag <= FIXED_S + 1e-9, (duration, lag)


def test_the_sample_is_the_middle_of_the_span_between_the_last_two_polls() -> None:
    assert observed_duration(
        submitted_at=1000, polled_at=1195, previous_poll_at=1165, min_s=MIN_S
    ) == pytest.approx(180)


def test_without_a_previous_poll_the_span_is_the_last_minimum_interval() -> None:
    assert observed_duration(
        submitted_at=1000, polled_at=1195, previous_poll_at=None, min_s=MIN_S
    ) == pytest.approx(192.5)
    # Never before the submit, never negative.
    assert observed_duration(
        submitted_at=1000, polled_at=1002, previous_poll_at=None, min_s=MIN_S
    ) == pytest.approx(1)
    assert observed_duration(
        submitted_at=1000, polled_at=1000, previous_poll_at=990, min_s=MIN_S
    ) == pytest.approx(0)


def test_a_faster_upstream_pulls_the_first_poll_earlier() -> None:
    """History recorded only by first polls that saw the job done drifts down until some jobs
    need a second poll: a speed-up is noticed (the drift of `observed_duration`)."""
    samples = [200.0] * 50
    true_duration = 150.0
    firsts = []
    for _ in range(40):
        polls = poll_times(samples, true_duration)
        previous = polls[-2] if len(polls) > 1 else None
        sample = observed_duration(
            submitted_at=0, polled_at=polls[-1], previous_poll_at=previous, min_s=MIN_S
        )
        samples = [sample] * 50  # one generation: every recent sample alike
        firsts.append(polls[0])
    assert firsts[-1] < firsts[0]
    assert abs(firsts[-1] - true_duration) <= 2 * MIN_S
