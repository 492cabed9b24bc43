"""The figures of one `bench/inflight.py` run: worker CPU by phase, upstream calls against the
poll pace, completion lag, peak RSS, and whether each goal of issue #4 is met.

Phases are wall-clock windows cut at upstream events (the fake records the time of every
submit, poll and download), so measuring them costs the worker nothing.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from inflight_upstream import SimClock

from vgen.domain.states import TaskState

GOAL_RSS_MB = 500.0
GOAL_WAITING_CPU = 0.10
# "Waiting" = a stretch with no upstream call; trimmed so the work just after a call (a park, a
# completion's probe and archive) and just before the next one is not counted as waiting.
MIN_GAP_S = 2.0
GAP_MARGIN_S = 0.5


@dataclass(frozen=True)
class Measured:
    """Everything one run recorded."""

    tasks: int
    first_poll_s: float
    poll_interval_s: float
    clock: SimClock
    jobs: dict[str, list[Any]]  # the upstream's per-job columns (see `FakeUpstream.stats`)
    poll_times: list[float]
    download_times: list[float]
    rows: list[dict[str, Any]]  # the task table at the end
    cpu: list[tuple[float, float]]  # (wall clock, worker CPU seconds), sampled from outside
    usage: dict[str, float]  # the worker's own getrusage / VmHWM at exit
    peak_sampled_rss_mb: float
    upstream_share: float  # of one core, the fake upstream's process over the run

    def cpu_at(self, at: float) -> float:
        """Worker CPU seconds used by wall-clock `at` (linear between samples)."""
        times = [t for t, _ in self.cpu]
        i = bisect.bisect_left(times, at)
        if i == 0:
            return self.cpu[0][1]
        if i == len(times):
            return self.cpu[-1][1]
        (t0, c0), (t1, c1) = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (at - t0) / (t1 - t0) if t1 > t0 else c1

    def polls_between(self, start: float, end: float) -> int:
        return _count_between(self.poll_times, start, end)

    def calls_between(self, start: float, end: float) -> int:
        """Submits, polls and downloads the upstream answered between `start` and `end`."""
        submits = sum(1 for t in self.jobs["submit_real"] if start <= t < end)
        downloads = _count_between(self.download_times, start, end)
        return submits + self.polls_between(start, end) + downloads


def _count_between(ordered: list[float], start: float, end: float) -> int:
    return bisect.bisect_left(ordered, end) - bisect.bisect_left(ordered, start)


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float  # real
    cpu_s: float
    polls: int


def phases(m: Measured) -> list[Phase]:
    """submitting / waiting / polling / completing / whole run, in wall-clock windows."""
    start, end = m.cpu[0][0], _end(m)
    last_submit = max(m.jobs["submit_real"])
    first_poll = min(m.poll_times, default=end)
    first_done = min((t for t in m.jobs["seen_done_real"] if t is not None), default=end)
    windows = {
        "submitting": [(start, last_submit)],
        "waiting (no upstream call due)": idle_windows(m, start, end),
        "polling (first poll -> first done)": [(first_poll, max(first_poll, first_done))],
        "completing (first done -> last)": [(first_done, max(first_done, end))],
        "whole run": [(start, end)],
    }
    return [
        Phase(
            name,
            seconds=sum(b - a for a, b in spans),
            cpu_s=sum(m.cpu_at(b) - m.cpu_at(a) for a, b in spans),
            polls=sum(m.polls_between(a, b) for a, b in spans),
        )
        for name, spans in windows.items()
    ]


def idle_windows(m: Measured, start: float, end: float) -> list[tuple[float, float]]:
    events = sorted([*m.jobs["submit_real"], *m.poll_times, *m.download_times])
    spans = []
    for a, b in zip(events, events[1:], strict=False):
        lo, hi = max(start, a + GAP_MARGIN_S), min(end, b - GAP_MARGIN_S)
        if b - a >= MIN_GAP_S and hi > lo:
            spans.append((lo, hi))
    return spans


def _end(m: Measured) -> float:
    completed = [r["completed_at"] for r in m.rows if r["completed_at"] is not None]
    return m.clock.to_real(max(completed)) if completed else m.cpu[-1][0]


@dataclass(frozen=True)
class Pace:
    submits: int
    polls: int
    downloads: int
    allowed_polls: int  # the pace's polls summed over the jobs, before the +1 slack each
    polls_max: int
    over_pace: int  # jobs polled more than the pace + 1
    resubmits: int


def check_pace(m: Measured) -> Pace:
    """Polls per job against 1 + ceil((job span - first poll) / interval); one more is allowed
    (the poll due right at the moment the job finishes may come just before it)."""
    allowed = [
        1 + math.ceil(max(0.0, (done - submit) - m.first_poll_s) / m.poll_interval_s)
        for submit, done in zip(m.jobs["submit_sim"], m.jobs["done_sim"], strict=True)
    ]
    polls = m.jobs["polls"]
    return Pace(
        submits=sum(m.jobs["submits"]),
        polls=sum(polls),
        downloads=sum(m.jobs["downloads"]),
        allowed_polls=sum(allowed),
        polls_max=max(polls, default=0),
        over_pace=sum(1 for p, a in zip(polls, allowed, strict=True) if p > a + 1),
        resubmits=sum(m.jobs["submits"]) - len(polls),
    )


def completion_lags(m: Measured) -> tuple[list[float], list[float]]:
    """Per completed task: simulated seconds from upstream done to `completed`; and real
    seconds from the poll that found the job done to `completed` (the worker's own part)."""
    index = {job_id: n for n, job_id in enumerate(m.jobs["id"])}
    lags_sim, own_real = [], []
    for row in m.rows:
        n = index.get(row["upstream_id"])
        if row["completed_at"] is None or n is None:
            continue
        lags_sim.append(row["completed_at"] - m.jobs["done_sim"][n])
        seen = m.jobs["seen_done_real"][n]
        if seen is not None:
            own_real.append(m.clock.to_real(row["completed_at"]) - seen)
    return lags_sim, own_real


def poll_delays(m: Measured) -> list[float]:
    """Real seconds each poll came after it was due: `first_poll_s` after the submit, then
    `poll_interval_s` after the previous poll (as the worker parks the task). Includes the
    worker's handling of the previous answer (milliseconds) and any backlog of due tasks."""
    delays = []
    first, interval = m.first_poll_s / m.clock.speed, m.poll_interval_s / m.clock.speed
    for submitted, polls in zip(m.jobs["submit_real"], m.jobs["poll_real"], strict=True):
        due = submitted + first
        for at in polls:
            delays.append(at - due)
            due = at + interval
    return delays


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def print_phases(m: Measured, table: list[Phase]) -> None:
    print(
        f"\n{'worker phase':<36} {'real s':>7} {'CPU s':>7} {'% core':>7} {'CPU s/1k tasks':>15}"
        f" {'polls':>8} {'CPU ms/poll':>12}"
    )
    for p in table:
        share = f"{p.cpu_s / p.seconds:7.1%}" if p.seconds > 0 else f"{'-':>7}"
        per_poll = f"{p.cpu_s / p.polls * 1000:12.2f}" if p.polls else f"{'-':>12}"
        print(
            f"{p.name:<36} {p.seconds:7.1f} {p.cpu_s:7.2f} {share} "
            f"{p.cpu_s / m.tasks * 1000:15.2f} {p.polls:8,} {per_poll}"
        )


def projected_share(m: Measured, table: list[Phase]) -> tuple[float, float] | None:
    """(CPU ms per poll above idle, share of a core) for `m.tasks` jobs polled at the real pace
    (one poll per task per interval), from the waiting and polling phases."""
    by_name = {p.name.split()[0]: p for p in table}
    waiting, polling = by_name["waiting"], by_name["polling"]
    if waiting.seconds < 1 or polling.polls == 0:
        return None
    idle = waiting.cpu_s / waiting.seconds
    per_poll = max(0.0, polling.cpu_s - idle * polling.seconds) / polling.polls
    return per_poll * 1000, idle + per_poll * m.tasks / m.poll_interval_s


def print_report(m: Measured) -> bool:
    """Print every figure; True when all goals are met."""
    table = phases(m)
    print_phases(m, table)
    print(f"(the fake upstream, in its own process, used {m.upstream_share:.0%} of a core)")
    peak = m.usage["vm_hwm_mb"]
    print(
        f"\npeak RSS of the worker: {peak:.0f} MB (VmHWM; ru_maxrss {m.usage['ru_maxrss_mb']:.0f}"
        f" MB; highest 0.1 s sample {m.peak_sampled_rss_mb:.0f} MB)"
    )
    pace = check_pace(m)
    n = m.tasks
    print(
        f"upstream calls per task: {(pace.submits + pace.polls + pace.downloads) / n:.2f} = "
        f"submits {pace.submits / n:.2f} + polls {pace.polls / n:.2f} + downloads "
        f"{pace.downloads / n:.2f}\n  the pace allows {pace.allowed_polls / n:.2f} polls per "
        f"task (+1 slack); most for one job: {pace.polls_max}; jobs polled above the pace: "
        f"{pace.over_pace:,}; resubmits: {pace.resubmits:,}"
    )
    delays = poll_delays(m)
    print(
        "poll delay beyond the pace (backlog of due tasks): p50 "
        f"{percentile(delays, 0.5):.2f} / p95 {percentile(delays, 0.95):.2f} / max "
        f"{max(delays, default=math.nan):.2f} s real"
    )
    print_lags(m)
    projected = projected_share(m, table)
    if projected is not None:
        print(
            f"projected at the real pace ({n:,} tasks, one poll each per "
            f"{m.poll_interval_s:g} s): {projected[0]:.2f} ms CPU per poll above idle -> "
            f"{projected[1]:.1%} of one core while the jobs run upstream"
        )
    waiting = next(p for p in table if p.name.startswith("waiting"))
    waiting_share = waiting.cpu_s / waiting.seconds if waiting.seconds >= 1 else math.nan
    return print_goals(peak, waiting_share, pace)


def print_lags(m: Measured) -> None:
    lags_sim, own_real = completion_lags(m)
    p50, p95, top = percentile(lags_sim, 0.5), percentile(lags_sim, 0.95), max(lags_sim)
    speed = m.clock.speed
    print(
        f"completion lag, upstream done -> task completed: p50 {p50:.2f} / p95 {p95:.2f} / max "
        f"{top:.2f} s simulated = {p50 / speed:.2f} / {p95 / speed:.2f} / {top / speed:.2f} s real"
    )
    print(
        "  the worker's own part, poll that saw done -> completed: p50 "
        f"{percentile(own_real, 0.5):.3f} / p95 {percentile(own_real, 0.95):.3f} / max "
        f"{max(own_real, default=math.nan):.3f} s real"
    )


def print_goals(peak_mb: float, waiting_share: float, pace: Pace) -> bool:
    waiting = "no waiting window" if math.isnan(waiting_share) else f"{waiting_share:.1%}"
    goals = [
        (f"peak RSS < {GOAL_RSS_MB:.0f} MB", peak_mb < GOAL_RSS_MB, f"{peak_mb:.0f} MB"),
        (
            f"CPU while waiting < {GOAL_WAITING_CPU:.0%} of one core",
            waiting_share < GOAL_WAITING_CPU,
            waiting,
        ),
        (
            "no more polls than the pace, no resubmit",
            pace.over_pace == 0 and pace.resubmits == 0,
            f"{pace.over_pace} jobs over, {pace.resubmits} resubmits",
        ),
    ]
    print("\ngoals:")
    for name, met, value in goals:
        print(f"  {name:<45} {'met' if met else 'NOT met':>8}  ({value})")
    return all(met for _, met, _ in goals)


def print_states(rows: list[dict[str, Any]]) -> int:
    """Task states at the end, and a few distinct errors; returns how many did not complete."""
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    print(f"\ntask states: {', '.join(f'{n:,} {s}' for s, n in sorted(states.items()))}")
    for error in sorted({row["error"] for row in rows if row["error"]})[:5]:
        print(f"  error: {error}")
    return len(rows) - states.get(TaskState.COMPLETED.value, 0)
