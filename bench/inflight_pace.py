"""The pace phases of `bench/inflight.py` (issue 14, learned polling pace): which phases a run
makes, clearing the task table between them (the durations history stays: it is what the
learned pace reads), and the side-by-side figures of the fixed and the learned pace.

Order: the fixed pace first; its completions are the history the learned phase starts from.
`--pace learned` alone first runs a short warm-up at the learned pace (no history yet, so the
fixed pace), not reported.
"""

from __future__ import annotations

import math
import re
import sqlite3
from dataclasses import dataclass

from inflight_report import Measured, check_pace, completion_lags, percentile

GOAL_CALLS_PER_TASK = 4.0


@dataclass(frozen=True)
class Phase:
    name: str
    learned: bool
    tasks: int
    reported: bool = True


def phases(pace: str, *, tasks: int, warmup: int) -> list[Phase]:
    if pace == "fixed":
        return [Phase("fixed", False, tasks)]
    if pace == "learned":
        return [Phase("warm-up", True, warmup, reported=False), Phase("learned", True, tasks)]
    return [Phase("fixed", False, tasks), Phase("learned", True, tasks)]


def clear_tasks(url: str) -> None:
    """Delete every task row (the next phase counts only its own); keep `job_durations`."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            with conn:
                conn.execute("DELETE FROM tasks")
        finally:
            conn.close()
        return
    import psycopg

    libpq = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    with psycopg.connect(libpq, autocommit=True) as pg:
        pg.execute("DELETE FROM tasks")


def history_size(url: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            return int(conn.execute("SELECT count(*) FROM job_durations").fetchone()[0])
        finally:
            conn.close()
    import psycopg

    libpq = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    with psycopg.connect(libpq, autocommit=True) as pg:
        row = pg.execute("SELECT count(*) FROM job_durations").fetchone()
        return int(row[0]) if row else 0


@dataclass(frozen=True)
class PaceFigures:
    calls: float  # upstream calls per task
    polls: float
    lag_p50: float  # simulated seconds, upstream done -> task completed
    lag_p95: float


def figures(m: Measured) -> PaceFigures:
    pace = check_pace(m)
    lags, _ = completion_lags(m)
    n = m.tasks
    return PaceFigures(
        calls=(pace.submits + pace.polls + pace.downloads) / n,
        polls=pace.polls / n,
        lag_p50=percentile(lags, 0.5),
        lag_p95=percentile(lags, 0.95),
    )


def print_comparison(results: dict[str, PaceFigures], *, interval_s: float) -> bool:
    """The fixed and learned pace side by side; True when the learned pace meets issue 14's
    goals (<= 4 calls per task, p95 lag at most one interval above the fixed pace's)."""
    print(
        f"\n{'pace':<9} {'calls/task':>10} {'polls/task':>10} "
        f"{'lag p50 s':>10} {'lag p95 s':>10}   (lag: upstream done -> completed, simulated)"
    )
    for name, f in results.items():
        print(f"{name:<9} {f.calls:10.2f} {f.polls:10.2f} {f.lag_p50:10.1f} {f.lag_p95:10.1f}")
    learned = results.get("learned")
    if learned is None:
        return True
    calls_met = learned.calls <= GOAL_CALLS_PER_TASK
    print("\ngoals (issue 14, learned pace):")
    print(
        f"  {'<= 4 upstream calls per task':<45} {'met' if calls_met else 'NOT met':>8}  "
        f"({learned.calls:.2f})"
    )
    fixed = results.get("fixed")
    if fixed is None:
        return calls_met
    extra = learned.lag_p95 - fixed.lag_p95
    lag_met = not math.isnan(extra) and extra <= interval_s
    print(
        f"  {'p95 lag <= fixed pace + one interval':<45} {'met' if lag_met else 'NOT met':>8}  "
        f"({extra:+.1f} s; interval {interval_s:g} s)"
    )
    return calls_met and lag_met
