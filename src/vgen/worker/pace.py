"""The learned polling pace: when to poll a remote job next, from the recent durations of its
model on its target. Pure functions of their arguments (no clock, no I/O), so they are tested
alone.

Invariants: without enough history, or once a job has outlived every sample, the delay is the
engine's own fixed pace; a delay is never shorter than the target's minimum interval; a poll is
never more than one fixed interval (the lag budget) after the low quantile of the ends still
possible, so a job that finishes when history says it will waits no longer than the fixed pace
would have made it wait.
"""

from __future__ import annotations

from collections.abc import Sequence

from vgen.store.durations import quantile

MIN_SAMPLES = 5
"""Below this many samples, quantiles say little: the fixed pace holds."""
LOW_Q = 0.1
"""The lag budget counts from this quantile of the ends still possible; the fastest tenth of
jobs may wait a little more than one interval, which buys most of the saving."""
HIGH_Q = 0.9
"""No poll is aimed later than this quantile of the ends still possible: past it, one job in
ten is left for the next, tighter poll."""


def next_poll_delay(
    samples: Sequence[float], *, elapsed_s: float, fixed_s: float, min_s: float
) -> float:
    """Seconds until the next poll of a job submitted `elapsed_s` ago.

    Args:
        samples: recent durations (submit to done) of the job's model on its target.
        elapsed_s: seconds since the job was submitted.
        fixed_s: the engine's own wait (the first-poll wait after a submit, the poll interval
            after a poll); the fallback, and the lag budget.
        min_s: the target's minimum interval between two polls of one job.

    The schedule. Let `pending` be the samples longer than `elapsed_s` (the ends still
    possible). The next poll is due at the earlier of
      - `quantile(pending, LOW_Q) + fixed_s`: jobs ending at or after that quantile wait at
        most one fixed interval once done, as under the fixed pace (the lag budget), and
      - `quantile(pending, HIGH_Q)`: nine jobs in ten are done by then, so one poll usually
        settles the job; the rest get the next poll tighter around the end,
    and, once `elapsed_s` is inside the distribution (past its low quantile), never later than
    one fixed interval from now. For a steady upstream (durations within about one interval of
    each other) that is one poll near the high quantile instead of the fixed pace's polls every
    interval from the first-poll wait on: submit + 1.1 polls + download instead of ~7 calls.
    A wide distribution is polled at the fixed interval inside it, but not before its low end.
    """
    floor_s = min(min_s, fixed_s)
    if len(samples) < MIN_SAMPLES:
        return fixed_s
    pending = sorted(s for s in samples if s > elapsed_s)
    if not pending:
        return fixed_s  # slower than anything seen: the fixed pace, as without history
    due = min(quantile(pending, LOW_Q) + fixed_s, quantile(pending, HIGH_Q))
    if elapsed_s >= quantile(samples, LOW_Q):
        due = min(due, elapsed_s + fixed_s)
    return max(due - elapsed_s, floor_s)


def observed_duration(
    *, submitted_at: float, polled_at: float, previous_poll_at: float | None, min_s: float
) -> float:
    """The sample a poll that saw the job done records: the middle of the span in which it
    finished, from the previous poll (that saw it running) to this one.

    When no previous poll is known (the first poll saw it done, or another worker made the
    previous one), the span is taken as the last `min_s` seconds: the sample is then at most
    `min_s / 2` early. That slight pull towards shorter durations is deliberate: with only
    "done by the first poll" to go on, a history that recorded the poll time itself would never
    notice an upstream that got faster; this one moves the first poll earlier, half a minimum
    interval per generation of samples, until some jobs need a second poll again.
    """
    start = previous_poll_at if previous_poll_at is not None else polled_at - min_s
    start = min(max(start, submitted_at), polled_at)
    return max(0.0, (start + polled_at) / 2 - submitted_at)
